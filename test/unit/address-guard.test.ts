import fc from 'fast-check';
import { checkAddress, isHostAllowed, parseNetworks } from '../../src/sources/address-guard';

/** What the connector judges for a URL: the WHATWG-normalized hostname without IPv6 brackets. */
function hostOf(url: string): string {
  return new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
}

function reasonFor(ip: string, allowedNetworks: string[] = []): string | undefined {
  const verdict = checkAddress(ip, allowedNetworks);
  return verdict.allowed ? undefined : verdict.reason;
}

describe('checkAddress', () => {
  it.each([
    ['127.0.0.1', /loopback/],
    ['127.255.0.9', /loopback/],
    ['::1', /loopback/],
    ['0.0.0.0', /unspecified/],
    ['::', /unspecified/],
    ['10.0.0.1', /private/],
    ['172.16.0.1', /private/],
    ['172.31.255.255', /private/],
    ['192.168.1.1', /private/],
    ['100.64.0.1', /carrierGradeNat/],
    ['169.254.169.254', /linkLocal, cloud metadata service/],
    ['169.254.1.1', /linkLocal/],
    ['fe80::1', /linkLocal/],
    ['fd00:ec2::254', /uniqueLocal, cloud metadata service/],
    ['fc00::1', /uniqueLocal/],
    ['224.0.0.1', /multicast/],
    ['ff02::1', /multicast/],
    ['255.255.255.255', /broadcast/],
    ['240.0.0.1', /reserved/],
    ['192.0.2.10', /reserved/],
    ['2001:db8::1', /reserved/],
    ['::ffff:127.0.0.1', /127\.0\.0\.1.*loopback/],
    ['::ffff:7f00:1', /127\.0\.0\.1.*loopback/],
    ['::ffff:a9fe:a9fe', /169\.254\.169\.254.*linkLocal/],
    ['::7f00:1', /IPv4-compatible/],
    ['::ffff:0:7f00:1', /embedding loopback 127\.0\.0\.1/],
    ['64:ff9b::a00:1', /rfc6052 address embedding private 10\.0\.0\.1/],
    ['64:ff9b:1::1', /rfc6052/],
    ['2002:c0a8:101::1', /6to4 address embedding private 192\.168\.1\.1/],
    // Teredo client 10.0.0.1 is stored inverted: ~0x0a00 = 0xf5ff, ~0x0001 = 0xfffe.
    ['2001:0:4136:e378:8000:63bf:f5ff:fffe', /teredo address embedding private 10\.0\.0\.1/],
    ['not-an-ip', /not an IP address/],
  ])('refuses %s', (ip, reason) => {
    expect(reasonFor(ip)).toMatch(reason);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '93.184.216.34',
    '2001:4860:4860::8888',
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
  ])('allows public %s', (ip) => {
    expect(checkAddress(ip, [])).toEqual({ allowed: true });
  });

  it.each([
    ['127.0.0.1', ['127.0.0.1/32']],
    ['127.0.0.1', ['127.0.0.1']],
    ['::ffff:127.0.0.1', ['127.0.0.1/32']],
    ['127.0.0.1', ['::ffff:127.0.0.0/104']],
    ['10.1.2.3', ['192.168.0.0/16', '10.1.2.0/24']],
    ['::1', ['::1/128']],
    ['fd12::5', ['fd12::/16']],
  ])('allows %s when it is in the allowed networks %j', (ip, networks) => {
    expect(checkAddress(ip, networks)).toEqual({ allowed: true });
  });

  it.each([
    ['127.0.0.2', ['127.0.0.1/32']],
    ['10.1.3.1', ['10.1.2.0/24']],
    ['::1', ['127.0.0.1/32']],
    ['64:ff9b::7f00:1', ['127.0.0.1/32']],
  ])('still refuses %s outside the allowed networks %j', (ip, networks) => {
    expect(checkAddress(ip, networks).allowed).toBe(false);
  });

  it('rejects a malformed allowed network naming it', () => {
    expect(() => parseNetworks(['10.0.0.0/8', '10.0.0/99x'])).toThrow(/invalid network "10\.0\.0\/99x"/);
    expect(() => checkAddress('8.8.8.8', ['nonsense'])).toThrow(/invalid network "nonsense"/);
  });

  it('refuses every IPv4 address in 10.0.0.0/8', () => {
    const octet = fc.integer({ min: 0, max: 255 });
    fc.assert(
      fc.property(octet, octet, octet, (b, c, d) => {
        const verdict = checkAddress(`10.${b}.${c}.${d}`, []);
        return !verdict.allowed && /private/.test(verdict.reason);
      }),
    );
  });

  it('refuses every IPv4-mapped form of a 10.0.0.0/8 address', () => {
    const word = fc.integer({ min: 0, max: 0xffff });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), word, (b, low) => {
        const high = (10 << 8) | b;
        return !checkAddress(`::ffff:${high.toString(16)}:${low.toString(16)}`, []).allowed;
      }),
    );
  });
});

describe('alternate notations in URLs', () => {
  it.each([
    ['http://2130706433/', '127.0.0.1'],
    ['http://0x7f000001/', '127.0.0.1'],
    ['http://0x7f.0.0.1/', '127.0.0.1'],
    ['http://127.1/', '127.0.0.1'],
    ['http://0177.0.0.1/', '127.0.0.1'],
    ['http://0/', '0.0.0.0'],
    ['http://169.254.169.254./', '169.254.169.254'],
    ['http://0xa9fea9fe/', '169.254.169.254'],
    ['http://[::ffff:127.0.0.1]/', '::ffff:7f00:1'],
    ['http://[::1]/', '::1'],
    ['http://[0:0:0:0:0:0:0:1]/', '::1'],
    ['http://[fd00:ec2::254]/latest/meta-data', 'fd00:ec2::254'],
  ])('%s is normalized to %s and refused', (url, normalized) => {
    const host = hostOf(url);
    expect(host.replace(/\.$/, '')).toBe(normalized);
    expect(checkAddress(host, []).allowed).toBe(false);
  });
});

describe('isHostAllowed', () => {
  const allowed = ['api.example.com', '*.metrics.example.org', '127.0.0.1', '[::1]'];

  it.each([
    ['api.example.com', true],
    ['API.Example.COM', true],
    ['api.example.com.', true],
    ['a.metrics.example.org', true],
    ['a.b.metrics.example.org', true],
    ['metrics.example.org', false],
    ['evilmetrics.example.org', false],
    ['example.com', false],
    ['api.example.com.evil.net', false],
    ['xapi.example.com', false],
    ['127.0.0.1', true],
    ['[::1]', true],
    ['::1', true],
    ['127.0.0.2', false],
    ['', false],
  ])('%s → %s', (host, expected) => {
    expect(isHostAllowed(host, allowed)).toBe(expected);
  });

  it('allows nothing with an empty allow-list', () => {
    expect(isHostAllowed('api.example.com', [])).toBe(false);
  });

  it('supports only "*." as a wildcard, and never for IP literals', () => {
    expect(isHostAllowed('anything.com', ['*'])).toBe(false);
    expect(isHostAllowed('api.example.com', ['api*.example.com'])).toBe(false);
    expect(isHostAllowed('example.com', ['*.'])).toBe(false);
    expect(isHostAllowed('127.0.0.1', ['*.0.0.1'])).toBe(false);
    expect(isHostAllowed('a.example.com', [' *.Example.com. '])).toBe(true);
  });
});
