import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ChainLog } from '../../audit/chain-log.js';
import type { Action, DecisionRecord, StageRecord } from '../../audit/types.js';
import { schemaText, SCHEMA_PATH } from '../../policies/cli/schema.js';
import { shadowReport } from '../../policies/cli/shadow-report.js';
import { cli, json, tempDir } from './helpers.js';

describe('policy CLI: schema', () => {
  it('the committed policies/policy.schema.json is what the zod schema generates', () => {
    assert.equal(
      readFileSync(SCHEMA_PATH, 'utf8'),
      schemaText(),
      'run `npm run policy -- schema` and commit the result',
    );
  });

  it('--check exits 0 when the file is up to date and 1 when it is stale, without writing', async () => {
    const ok = await cli(['schema', '--check']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^OK .*policy\.schema\.json is up to date/);
    const dir = tempDir();
    const stale = join(dir, 'schema.json');
    writeFileSync(stale, '{}\n');
    const r = await cli(['schema', '--check', '--out', stale, '--json']);
    assert.equal(r.code, 1);
    assert.deepEqual({ ...json(r), bytes: 0 }, { ok: false, file: stale, upToDate: false, written: false, bytes: 0 });
    assert.equal(readFileSync(stale, 'utf8'), '{}\n');
  });

  it('writes the schema to --out (human and JSON output)', async () => {
    const out = join(tempDir(), 'schema.json');
    const r = await cli(['schema', '--out', out]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^wrote .*schema\.json \(\d+ bytes\)/);
    assert.equal(readFileSync(out, 'utf8'), schemaText());
    const again = json(await cli(['schema', '--out', out, '--json']));
    assert.equal(again.written, false);
    assert.equal(again.upToDate, true);
  });
});

const stage = (action: Action, rules: [string, Action][], shadowRules: [string, Action][] = []): StageRecord => ({
  action,
  rules: rules.map(([id, a]) => ({ id, action: a, reason: 'test' })),
  ...(shadowRules.length && { shadow_rules: shadowRules.map(([id, a]) => ({ id, action: a, reason: 'test' })) }),
  classifiers: [],
  latency_ms: 1,
});

function decision(
  id: string,
  action: Action,
  input: StageRecord,
  shadow?: { action: Action; input: StageRecord; output?: StageRecord },
): DecisionRecord {
  return {
    v: 1,
    api: 'chat.completions',
    decision_id: id,
    time: '2026-11-29T12:00:00.000Z',
    instance: 'test',
    key_id: null,
    tenant: null,
    route: '/v1/chat/completions',
    model: 'm',
    stream: false,
    policy: { id: 'live', revision: 'a'.repeat(64) },
    action,
    status: 200,
    stages: { input },
    latency_ms: { total: 1 },
    content: { mode: 'none' },
    ...(shadow && {
      shadow: {
        policy: { id: 'candidate', revision: 'b'.repeat(64) },
        action: shadow.action,
        stages: { input: shadow.input, ...(shadow.output && { output: shadow.output }) },
      },
    }),
  };
}

/** Five decisions: two agree, two where the candidate's new rule refuses, one where the candidate drops a redaction. */
const records: DecisionRecord[] = [
  decision('dec_1', 'allow', stage('allow', []), { action: 'allow', input: stage('allow', []) }),
  decision('dec_2', 'allow', stage('allow', []), {
    action: 'refuse',
    input: stage('refuse', [['new-weapons', 'refuse']]),
  }),
  decision('dec_3', 'flag', stage('flag', [['watch', 'flag']]), {
    action: 'refuse',
    input: stage('refuse', [
      ['new-weapons', 'refuse'],
      ['watch', 'flag'],
    ]),
  }),
  decision('dec_4', 'redact', stage('redact', [['hide-pii', 'redact']]), {
    action: 'allow',
    input: stage('allow', []),
  }),
  decision('dec_5', 'refuse', stage('refuse', [['weapons', 'refuse']]), {
    action: 'refuse',
    input: stage('refuse', [['weapons', 'refuse']]),
  }),
  decision('dec_6', 'allow', stage('allow', [], [['trial', 'refuse']])),
];

describe('shadow report', () => {
  it('counts, per rule, where the shadow policy disagreed with the enforced one, with example ids', () => {
    const r = shadowReport(records);
    assert.equal(r.records, 6);
    assert.equal(r.withShadow, 5);
    assert.equal(r.agree, 2);
    assert.equal(r.disagree, 3);
    assert.deepEqual(r.policies, [{ id: 'candidate', revision: 'b'.repeat(64), records: 5 }]);
    assert.deepEqual(
      r.transitions.map((t) => [t.from, t.to, t.count, t.examples]),
      [
        ['allow', 'refuse', 1, ['dec_2']],
        ['flag', 'refuse', 1, ['dec_3']],
        ['redact', 'allow', 1, ['dec_4']],
      ],
    );
    assert.deepEqual(r.rules, [
      {
        id: 'new-weapons',
        disagreements: 2,
        shadowOnly: 2,
        enforcedOnly: 0,
        actionChanged: 0,
        transitions: { 'allow→refuse': 1, 'flag→refuse': 1 },
        examples: ['dec_2', 'dec_3'],
      },
      {
        id: 'hide-pii',
        disagreements: 1,
        shadowOnly: 0,
        enforcedOnly: 1,
        actionChanged: 0,
        transitions: { 'redact→allow': 1 },
        examples: ['dec_4'],
      },
    ]);
    assert.deepEqual(r.shadowModeRules, [{ id: 'trial', matched: 1, wouldChange: 1, examples: ['dec_6'] }]);
  });

  it('reads decisions.jsonl and prints the report (human and JSON)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'decisions.jsonl'), `${records.map((r) => JSON.stringify(r)).join('\n')}\nnot json\n`);
    const r = await cli(['shadow-report', '--dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^6 decisions in 1 file under .* \(1 lines skipped\)\n5 with a shadow decision: 2 agree, 3 disagree/,
    );
    assert.match(r.stdout, /enforced allow → shadow refuse: 1 +e\.g\. dec_2/);
    assert.match(r.stdout, /new-weapons +2 +2 +0 +0 +allow→refuse 1, flag→refuse 1 +dec_2 dec_3/);
    assert.match(r.stdout, /trial: matched 1, would have changed the action 1/);
    const j = json(await cli(['shadow-report', '--json'], { env: { GATEWAY_AUDIT_DIR: dir } }));
    assert.equal(j.disagree, 3);
    assert.equal(j.skipped[0].line, 7);
  });

  it('reads the hash-chained segments through the audit reader', async () => {
    const dir = tempDir();
    const log = await ChainLog.open({ dir, onEvent: () => {} });
    for (const r of records) await log.append(r);
    await log.close();
    const j = json(await cli(['shadow-report', '--dir', dir, '--json']));
    assert.equal(j.records, 6);
    assert.equal(j.disagree, 3);
    assert.ok(j.files.some((f: string) => /segment-\d+\.ndjson$/.test(f)));
  });

  it('exits 2 when there are no records to read', async () => {
    const r = await cli(['shadow-report', '--dir', join(tempDir(), 'nope')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no audit records/);
    const empty = await cli(['shadow-report', '--dir', tempDir()]);
    assert.equal(empty.code, 2);
  });
});
