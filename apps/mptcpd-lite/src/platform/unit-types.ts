/** The @mptcp/unit model types the app uses (packages/unit/src/model.ts). */
export type { Diagnostic, ServiceUnit, SocketUnit, Unit } from '@mptcp/unit';
