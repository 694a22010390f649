export const PACKAGE = '@mptcp/native';
