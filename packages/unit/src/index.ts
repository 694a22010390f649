export const PACKAGE = '@mptcp/unit';
