// An agent harness in the original runner's conventions: the task document arrives as
// `--input <path>`, the result goes to `--output <path>` (agent_result_v1). Everything
// it observed is reported back in its metrics so the test can check it.
'use strict';
const fs = require('fs');
const path = require('path');

function flag(name) {
  const i = process.argv.indexOf(name);
  if (i < 0 || i + 1 >= process.argv.length) {
    throw new Error(`missing ${name} <path> (argv: ${process.argv.slice(2).join(' ')})`);
  }
  return process.argv[i + 1];
}

const input = flag('--input');
const output = flag('--output');
const task = JSON.parse(fs.readFileSync(input, 'utf8'));
const bindings = JSON.parse(fs.readFileSync(process.env.AGENTLAB_BINDINGS_PATH, 'utf8'));
const policy = JSON.parse(fs.readFileSync(process.env.AGENTLAB_POLICY_PATH, 'utf8'));
// No services are declared: the list is there anyway, empty, as the original wrote it.
const deps = JSON.parse(fs.readFileSync(process.env.AGENTLAB_DEPENDENCIES_PATH, 'utf8'));
const words = task.input.prompt.split(/\s+/).filter(Boolean).length;

fs.mkdirSync('notes', { recursive: true });
fs.writeFileSync(path.join('notes', `${task.id}.txt`), `${bindings.style}: ${task.input.prompt}\n`);
fs.appendFileSync(
  process.env.AGENTLAB_TRAJECTORY_PATH,
  JSON.stringify({ event_type: 'model_call_end', usage: { tokens_in: words, tokens_out: 1 } }) + '\n',
);

const result = {
  schema_version: 'agent_result_v1',
  ids: {
    run_id: process.env.AGENTLAB_RUN_ID,
    trial_id: process.env.AGENTLAB_TRIAL_ID,
    variant_id: process.env.AGENTLAB_VARIANT_ID,
    task_id: process.env.AGENTLAB_TASK_ID,
    repl_idx: Number(process.env.AGENTLAB_REPL_IDX),
  },
  outcome: task.expect,
  answer: task.expect === 'missing' ? null : { words },
  metrics: {
    read_task_id: task.id,
    prompt_words: words,
    style: bindings.style,
    input_is_task_path: input === process.env.AGENTLAB_TASK_PATH,
    output_is_result_path: output === process.env.AGENTLAB_RESULT_PATH,
    policy_timeout_ms: policy.timeout_ms,
    env_timeout_ms: Number(process.env.AGENTLAB_TIMEOUT_MS),
    services: deps.services.length,
    judge: null,
  },
  objective: { name: 'score', value: task.expect === 'success' ? 1 : 0.25, direction: 'maximize' },
  artifacts: [{ path: `notes/${task.id}.txt`, logical_name: 'notes' }],
};
fs.writeFileSync(output, JSON.stringify(result));
console.log(`${process.env.AGENTLAB_TASK_ID} [${bindings.style}] ${task.input.prompt}`);
