import { describe, expect, it } from 'vitest';
import {
  mptcpUnavailableHint,
  mptcpUnavailableReason,
  MPTCP_INFO_FLAG_FALLBACK,
  MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED,
} from '../src/index.js';

describe('MPTCP unavailability', () => {
  it('ENOPROTOOPT means disabled by sysctl', () => {
    expect(mptcpUnavailableReason('ENOPROTOOPT')).toBe('disabled-by-sysctl');
  });
  it('EPROTONOSUPPORT and EINVAL mean a kernel without MPTCP', () => {
    expect(mptcpUnavailableReason('EPROTONOSUPPORT')).toBe('kernel-without-mptcp');
    expect(mptcpUnavailableReason('EINVAL')).toBe('kernel-without-mptcp');
  });
  it('other errors are not classified', () => {
    expect(mptcpUnavailableReason('EACCES')).toBeUndefined();
    expect(mptcpUnavailableReason('toString')).toBeUndefined();
  });
  it('the hint names the sysctl and the fix', () => {
    expect(mptcpUnavailableHint('disabled-by-sysctl')).toContain('sysctl -w net.mptcp.enabled=1');
    expect(mptcpUnavailableHint('kernel-without-mptcp')).toContain('CONFIG_MPTCP');
  });
  it('flag bits are distinct single bits', () => {
    expect(MPTCP_INFO_FLAG_FALLBACK & MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED).toBe(0);
    expect([MPTCP_INFO_FLAG_FALLBACK, MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED]).toEqual([1, 2]);
  });
});
