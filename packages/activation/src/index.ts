export const PACKAGE = '@mptcp/activation';
