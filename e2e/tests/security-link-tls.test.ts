import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, startBalancer, startMonolith, useHarness, userToken, waitFor, type MonolithHandle } from '../harness/index.js';
import { readyOf } from '../harness/gateway-http.js';
import { makeLinkPki, type LinkPki } from '../harness/tls.js';

useHarness();

/** Links across machines run over TLS with mutual certificates (LINK_TLS_CA/CERT/KEY). */
describe('links over mutual TLS', () => {
  let pki: LinkPki;
  let other: LinkPki;
  let monolith: MonolithHandle;
  const toStop: Array<{ stop(): Promise<unknown> }> = [];
  beforeAll(async () => {
    pki = makeLinkPki();
    other = makeLinkPki('some-other-ca');
    monolith = await startMonolith({ env: { LINK_TLS_CA: pki.ca, LINK_TLS_CERT: pki.monolithCert, LINK_TLS_KEY: pki.monolithKey } });
    toStop.push(monolith);
  });
  afterAll(async () => {
    await Promise.all(toStop.map((h) => h.stop()));
  });

  it('links a balancer with a certificate from the CA, and serves its clients', async () => {
    const balancer = await startBalancer({
      monoliths: [monolith],
      env: { LINK_TLS_CA: pki.ca, LINK_TLS_CERT: pki.balancerCert, LINK_TLS_KEY: pki.balancerKey },
    });
    toStop.push(balancer);
    const c = await connect(balancer.url());
    expect((await c.auth(await userToken())).data.monolith).toBe(monolith.id);
    expect(await c.request('ping', 1)).toMatchObject({ event: 'pong', _id: 1 });
  });

  it('refuses a balancer without a client certificate, and one dialing plain ws://', async () => {
    const before = await monolith.metric('gateway_monolith_link_rejected_total');
    const noCert = await startBalancer({ monoliths: [monolith], env: { LINK_TLS_CA: pki.ca }, waitForMonoliths: 0 });
    const plain = await startBalancer({ monoliths: [monolith], waitForMonoliths: 0 });
    toStop.push(noCert, plain);
    await waitFor(async () => (await monolith.metric('gateway_monolith_link_rejected_total')) >= before + 2, { what: 'refused TLS handshakes', timeoutMs: 20_000 });
    for (const b of [noCert, plain]) expect((await readyOf(b.http)).body).toMatchObject({ monoliths: 0 });
    expect(monolith.proc.output('stderr')).toContain('TLS handshake failed');
  });

  it('never links to a monolith whose certificate another CA signed', async () => {
    const balancer = await startBalancer({
      monoliths: [monolith],
      env: { LINK_TLS_CA: other.ca, LINK_TLS_CERT: other.balancerCert, LINK_TLS_KEY: other.balancerKey },
      waitForMonoliths: 0,
    });
    toStop.push(balancer);
    await waitFor(() => /failed link authentication \(TLS certificate\)/.test(balancer.proc.output('stderr')), { what: 'the balancer refusing the certificate' });
    expect((await readyOf(balancer.http)).body).toMatchObject({ monoliths: 0 });
  });
});
