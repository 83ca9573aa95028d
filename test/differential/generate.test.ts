// The generator of adversarial bodies: reproducible from its seed, and spread over every route
// that carries a body. With Go available, also the mix it produces at the scale CI runs
// (10,000 cases): mostly accepted requests, every kind of refusal, no reader errors.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROUTES } from '../../src/routes/table.js';
import { BODY_ROUTE_IDS, caseAt, generateCases, NAMED_CASES } from './generate.js';
import { GoReader, goReaderUnavailable } from './go-reader.js';

describe('generateCases', () => {
  it('gives identical bytes, labels and routes for the same seed', () => {
    const a = generateCases(20231, 1500);
    const b = generateCases(20231, 1500);
    assert.equal(a.length, 1500);
    a.forEach((c, i) => {
      const d = b[i]!;
      assert.deepEqual([c.label, c.routeId, c.contentType], [d.label, d.routeId, d.contentType]);
      assert.ok(c.body.equals(d.body), c.label);
    });
  });

  it('builds case i alone exactly as in the whole run', () => {
    const run = generateCases(7, 400);
    for (const i of [0, 1, NAMED_CASES.length, 37, 399]) {
      const alone = caseAt(7, i);
      assert.equal(alone.label, run[i]!.label);
      assert.ok(alone.body.equals(run[i]!.body));
    }
  });

  it('gives other bodies for another seed', () => {
    const a = generateCases(1, 300).slice(NAMED_CASES.length + BODY_ROUTE_IDS.length);
    const b = generateCases(2, 300).slice(NAMED_CASES.length + BODY_ROUTE_IDS.length);
    const same = a.filter((c, i) => c.body.equals(b[i]!.body)).length;
    assert.ok(same < a.length / 10, `${same} of ${a.length} identical`);
  });

  it('covers every route id that carries a body, each many times', () => {
    const bodyRoutes = ROUTES.filter((r) => r.body === 'json' || r.body === 'multipart').map((r) => r.id).sort();
    assert.deepEqual([...BODY_ROUTE_IDS].sort(), bodyRoutes, 'the generator knows exactly the routes of src/routes/table.ts with a JSON or multipart body');
    const counts = new Map<string, number>();
    for (const c of generateCases(99, 10_000)) counts.set(c.routeId, (counts.get(c.routeId) ?? 0) + 1);
    for (const id of BODY_ROUTE_IDS) assert.ok((counts.get(id) ?? 0) >= 50, `${id}: ${counts.get(id) ?? 0} cases`);
    // Every route appears within the first cases of any run, so even a short run covers them all.
    const head = new Set(generateCases(5, NAMED_CASES.length + BODY_ROUTE_IDS.length).map((c) => c.routeId));
    assert.deepEqual([...head].sort(), [...BODY_ROUTE_IDS].sort());
  });
});

const skip = (await goReaderUnavailable()) ?? false;

describe('10,000 generated cases through the Go reader', { skip }, () => {
  it('are mostly accepted, refused at every stage, and never confuse the reader', async (t) => {
    const cases = generateCases(Number(process.env.GATEHOUSE_DIFF_SEED ?? 23), 10_000);
    const go = await GoReader.start();
    try {
      const started = performance.now();
      const readings = await Promise.all(cases.map((c) => go.read(c.routeId, c.contentType, c.body)));
      const ms = performance.now() - started;
      t.diagnostic(`10,000 frames through the bridge in ${ms.toFixed(0)} ms`);
      const stages = new Map<string, number>();
      let ok = 0;
      readings.forEach((r, i) => {
        if (r.ok) ok++;
        else stages.set(r.stage, (stages.get(r.stage) ?? 0) + 1);
        if (!r.ok) assert.ok(r.stage !== 'frame' && r.stage !== 'panic', `${cases[i]!.label}: ${r.error}`);
      });
      t.diagnostic(`accepted ${ok}; refused by stage ${JSON.stringify(Object.fromEntries(stages))}`);
      assert.ok(ok >= 6000, `only ${ok} of 10,000 accepted: the mix should be mostly valid requests`);
      for (const stage of ['decode', 'multipart', 'validate', 'convert', 'options']) assert.ok((stages.get(stage) ?? 0) > 0, `no refusal at ${stage}`);
    } finally {
      await go.close();
    }
  });
});
