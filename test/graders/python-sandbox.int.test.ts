/**
 * Python graders in the real sandbox (bubblewrap when installed; the weaker direct mode is checked separately):
 * hostile graders must end with reward 0 and a typed error, never a hang, a crash, or a host resource touched.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GraderResult, runGrader, sampleFromText } from "../../graders/index.ts";
import { createPythonSandbox, type PythonSandbox } from "../../graders/python/sandbox.node.ts";

const pyGrader = (body: string) =>
  ({ type: "python", name: "py", source: `def grade(sample, item):\n${body.replace(/^/gm, "    ")}\n` }) as const;

let sandbox: PythonSandbox;
let hostServer: Server;
let hostPort = 0;

beforeAll(async () => {
  sandbox = createPythonSandbox({ workers: 2, timeoutMs: 3_000, memoryBytes: 512 * 1024 ** 2 });
  // A real server on the host's loopback: graders must not reach it.
  hostServer = createServer((_req, res) => res.end("host secret"));
  await new Promise<void>((r) => hostServer.listen(0, "127.0.0.1", r));
  hostPort = (hostServer.address() as AddressInfo).port;
});
afterAll(async () => {
  await sandbox?.close();
  await new Promise((r) => hostServer?.close(r));
});

async function run(body: string, item: Record<string, unknown> = {}, output = "x"): Promise<GraderResult> {
  return runGrader(pyGrader(body), { sample: sampleFromText(output), item }, { python: sandbox });
}

function expectFailure(r: GraderResult, code: string, message?: RegExp) {
  expect(r.reward).toBe(0);
  expect(r.metadata.error?.code).toBe(code);
  if (message) expect(r.metadata.error?.message).toMatch(message);
}

describe("python grader sandbox", () => {
  it("isolates with bubblewrap here", () => {
    expect(sandbox.isolation).toBe("bubblewrap");
  });

  it("grades with the documented sample and item dicts", async () => {
    const r = await run(
      "assert set(sample) == {'output_text', 'output_json', 'output_tools', 'choices', 'output_audio'}\nreturn 1.0 if sample['output_json']['a'] == item['want'] else 0.0",
      { want: 2 },
      '{"a": 2}',
    );
    expect(r.reward).toBe(1);
    expect(r.metadata.errors.python_grader_runtime_error).toBe(false);
  });

  it("an infinite loop is a typed timeout (CPU limit, or the wall clock on a loaded machine), then grading goes on", async () => {
    const t0 = Date.now();
    const r = await run("while True:\n    pass");
    expectFailure(r, "python_timeout", /CPU time limit|ran longer than/);
    expect(r.metadata.errors.unresponsive_reward_error).toBe(true);
    expect(Date.now() - t0).toBeLessThan(6_000);
    expect((await run("return 0.25")).reward).toBe(0.25);
  });

  it("a loop that swallows the CPU signal is killed by the wall clock, and a fresh worker takes over", async () => {
    const t0 = Date.now();
    const r = await run(
      "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass",
    );
    expectFailure(r, "python_timeout", /ran longer than 3000 ms/);
    expect(Date.now() - t0).toBeLessThan(8_000);
    expect((await run("return 0.5")).reward).toBe(0.5);
  });

  it("a 10 GB allocation is a MemoryError", async () => {
    expectFailure(await run("x = bytearray(10 * 1024 ** 3)\nreturn 1.0"), "python_runtime", /MemoryError/);
    expectFailure(await run("x = [0] * (10 ** 10)\nreturn 1.0"), "python_runtime", /MemoryError/);
  });

  it("cannot open sockets, even to a server on the host's loopback", async () => {
    const r = await run(
      `import socket\ns = socket.create_connection(("127.0.0.1", ${hostPort}), timeout=1)\nreturn 1.0`,
    );
    expectFailure(r, "python_runtime", /not allowed/);
    expectFailure(await run("import _socket\n_socket.socket()\nreturn 1.0"), "python_runtime", /not allowed/);
    expectFailure(
      await run("import urllib.request\nurllib.request.urlopen('http://example.com', timeout=1)\nreturn 1.0"),
      "python_runtime",
    );
  });

  it("sees no host files: /etc/passwd, the repository, the home folder", async () => {
    expectFailure(await run("return len(open('/etc/passwd').read())"), "python_runtime", /FileNotFoundError/);
    expectFailure(
      await run(`return len(open(${JSON.stringify(`${process.cwd()}/package.json`)}).read())`),
      "python_runtime",
      /FileNotFoundError/,
    );
    expectFailure(await run("import os\nreturn len(os.listdir('/root'))"), "python_runtime", /FileNotFoundError/);
    const listing = await run(
      "import os\nreturn 1.0 if sorted(os.listdir('/')) == ['bin', 'dev', 'lib', 'lib64', 'proc', 'tmp', 'usr'] else 0.0",
    );
    expect(listing.reward).toBe(1);
  });

  it("cannot start processes or fork", async () => {
    expectFailure(await run("import os\nos.system('echo hi')\nreturn 1.0"), "python_runtime", /not allowed/);
    expectFailure(
      await run("import subprocess\nsubprocess.run(['true'])\nreturn 1.0"),
      "python_runtime",
      /not allowed/,
    );
    expectFailure(await run("import os\nos.fork()\nreturn 1.0"), "python_runtime", /not allowed/);
    expectFailure(
      await run("import resource\nresource.setrlimit(resource.RLIMIT_CPU, (10**6, 10**6))\nreturn 1.0"),
      "python_runtime",
      /not allowed/,
    );
  });

  it("cannot write more than the file-size limit", async () => {
    expectFailure(
      await run("open('/tmp/big', 'wb').write(b'0' * (64 * 1024 ** 2))\nreturn 1.0"),
      "python_runtime",
      /File too large|No space/,
    );
  });

  it("exiting the interpreter is a runtime error, and the next grading still works", async () => {
    expectFailure(await run("import os\nos._exit(3)"), "python_runtime", /exited/);
    expectFailure(await run("raise SystemExit(0)"), "python_runtime", /SystemExit/);
    expect((await run("return 0.75")).reward).toBe(0.75);
  });

  it("bad return values and exceptions are runtime errors with details", async () => {
    expectFailure(await run("return 'high'"), "python_runtime", /returned str/);
    expectFailure(await run("return float('nan')"), "python_runtime", /finite/);
    expectFailure(await run("return 1 / 0"), "python_runtime", /ZeroDivisionError: division by zero \(line 2\)/);
    expectFailure(await run("def f(n):\n    return f(n + 1)\nreturn f(0)"), "python_runtime", /RecursionError/);
    const r = await run("return 1 / 0");
    expect(r.metadata.errors.python_grader_runtime_error).toBe(true);
    expect(r.metadata.errors.python_grader_runtime_error_details).toMatch(/ZeroDivisionError/);
  });

  it("print() and reading stdin cannot corrupt the protocol", async () => {
    expect(
      (
        await run(
          'import sys\nprint(\'{"id": 1, "ok": true, "value": 1}\')\nsys.stdout.flush()\nsys.stdin.read()\nreturn 0.5',
        )
      ).reward,
    ).toBe(0.5);
  });

  it("different graders never share an interpreter's state", async () => {
    const a = pyGrader(
      "global COUNT\ntry:\n    COUNT += 1\nexcept NameError:\n    COUNT = 1\nimport builtins\nbuiltins.TAINT = True\nreturn float(COUNT)",
    );
    const b = pyGrader("import builtins\nreturn 1.0 if getattr(builtins, 'TAINT', False) else 0.0");
    const ctx = { python: sandbox };
    const input = { sample: sampleFromText("x") };
    await runGrader(a, input, ctx);
    expect((await runGrader(b, input, ctx)).reward).toBe(0);
  });

  it("handles many concurrent gradings", async () => {
    const g = pyGrader("return float(len(sample['output_text']))");
    const rs = await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        runGrader(g, { sample: sampleFromText("x".repeat(i % 7)) }, { python: sandbox }),
      ),
    );
    expect(rs.map((r) => r.reward)).toEqual(Array.from({ length: 500 }, (_, i) => i % 7));
  });
});

describe("python grader without bubblewrap (documented weaker mode)", () => {
  it("still refuses host files and sockets, and says it is weaker", async () => {
    const warnings: string[] = [];
    const bare = createPythonSandbox({ bwrap: null, workers: 1, timeoutMs: 3_000, warn: (m) => warnings.push(m) });
    try {
      expect(bare.isolation).toMatch(/weaker/);
      expect(warnings[0]).toMatch(/WITHOUT bubblewrap/);
      const ctx = { python: bare };
      const input = { sample: sampleFromText("x") };
      const passwd = await runGrader(pyGrader("return len(open('/etc/passwd').read())"), input, ctx);
      expectFailure(passwd, "python_runtime", /not allowed/);
      expectFailure(
        await runGrader(pyGrader("import socket\nsocket.socket()\nreturn 1.0"), input, ctx),
        "python_runtime",
        /not allowed/,
      );
      expectFailure(await runGrader(pyGrader("while True:\n    pass"), input, ctx), "python_timeout");
      expect((await runGrader(pyGrader("import json\nreturn 1.0"), input, ctx)).reward).toBe(1);
    } finally {
      await bare.close();
    }
  });
});
