// The key-never-leaves recorder: every request the page sends (URL, headers, body), and a
// detector for the secrets of a saved credential (password, PFX, private key in every encoding
// a leak could take), proven on planted samples before it is trusted.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

/** Records every HTTP(S) request `page` sends; returns the (growing) list. */
export function recordRequests(page) {
  const sent = [];
  page.on('request', async (r) => {
    if (!/^https?:/.test(r.url())) return;
    sent.push({ method: r.method(), url: r.url(), headers: await r.allHeaders(), body: r.postDataBuffer() ?? Buffer.alloc(0) });
  });
  return sent;
}

/**
 * The private key inside a PFX, read by Python `cryptography`: its PKCS#8 DER and its private
 * numbers (d, p, q), so the checks look for what is secret, not for the modulus, which the
 * public certificate rightly carries too.
 */
export function privateKey(pfxPath, password) {
  const script = `
import sys, base64, json
from cryptography.hazmat.primitives.serialization import pkcs12, Encoding, PrivateFormat, NoEncryption
key, cert, _ = pkcs12.load_key_and_certificates(open(sys.argv[1], "rb").read(), sys.argv[2].encode())
n = key.private_numbers()
b = lambda i: base64.b64encode(i.to_bytes((i.bit_length() + 7) // 8, "big")).decode()
print(json.dumps({"pkcs8": base64.b64encode(key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())).decode(),
                  "d": b(n.d), "p": b(n.p), "q": b(n.q)}))
`;
  const out = JSON.parse(execFileSync(process.env.PYTHON ?? 'python3', ['-c', script, pfxPath, password]).toString());
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
}

/**
 * `leaks(request)` names every secret of `made` (what `makeAndSave` returned) found in a
 * recorded request; checked first against each kind of secret planted in a request.
 */
export function leakDetector(made) {
  const key = privateKey(made.files.pfxPath, made.password);
  const b64 = (buf) => [buf.toString('base64'), buf.toString('base64url'), buf.toString('hex'), buf.toString('hex').toUpperCase()];
  const head = (buf) => b64(buf).map((s) => s.slice(0, 48));
  const keyPem = made.files['key.pem'].toString().split('\n');
  const secrets = {
    'password': [made.password, encodeURIComponent(made.password)],
    'PFX (base64)': [made.files.pfx.toString('base64').slice(0, 64), made.files.pfx.toString('base64url').slice(0, 64), made.files.pfx.toString('base64').slice(-64)],
    'private key PKCS#8 (base64/PEM)': [key.pkcs8.toString('base64'), key.pkcs8.toString('base64').slice(-64), key.pkcs8.toString('base64url').slice(-64)],
    'private exponent d': head(key.d),
    'prime p': head(key.p),
    'prime q': head(key.q),
    'encrypted key PEM': keyPem.slice(-4, -2),
  };
  const rawSecrets = { 'PFX bytes': made.files.pfx.subarray(0, 256), 'd': key.d.subarray(0, 64), 'p': key.p.subarray(0, 64), 'q': key.q.subarray(0, 64) };
  const leaks = (r) => {
    const text = [r.url, JSON.stringify(r.headers), r.body.toString('utf8'), r.body.toString('latin1')].join('\n');
    const found = [];
    for (const [what, needles] of Object.entries(secrets)) if (needles.some((n) => text.includes(n))) found.push(what);
    for (const [what, bytes] of Object.entries(rawSecrets)) if (r.body.indexOf(bytes) !== -1) found.push(what);
    return found;
  };
  // The detector itself works: each kind of secret, planted in a request, is found.
  const plant = (body) => leaks({ url: 'http://x/', headers: {}, body: Buffer.from(body) });
  assert.deepEqual(plant(`pw=${encodeURIComponent(made.password)}`), ['password']);
  assert.ok(plant(made.files.pfx.toString('base64')).includes('PFX (base64)'));
  assert.ok(plant(made.files['key.pem'].toString()).includes('encrypted key PEM'));
  assert.ok(plant(JSON.stringify({ k: key.pkcs8.toString('base64') })).includes('private key PKCS#8 (base64/PEM)'));
  assert.ok(plant(key.d.toString('hex')).includes('private exponent d'));
  assert.ok(plant(key.q.toString('base64url')).includes('prime q'));
  assert.ok(leaks({ url: 'http://x/', headers: {}, body: key.pkcs8 }).includes('d'));
  return { leaks, secrets };
}
