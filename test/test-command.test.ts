/**
 * The README's test command works on a bare clone (it installs first), and .ci/run runs
 * exactly that command, so CI and a reader who follows the README do the same thing.
 */
import { readFileSync } from "node:fs";
import { expect, test } from "vitest";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const ciRun = readFileSync(new URL("../.ci/run", import.meta.url), "utf8");

test("the README's test command installs before it tests, and .ci/run runs exactly it", () => {
  const section = /\*\*Run the whole test suite\*\*[^\n]*\n+```sh\n([^\n]+)\n```/.exec(readme);
  expect(section, "README: a sh block right after **Run the whole test suite**").not.toBeNull();
  const command = section![1]!.trim();
  expect(command).toMatch(/^npm ci && npm test$/);
  const commands = ciRun.split("\n").map((line) => line.trim()).filter((line) => line !== "" && !line.startsWith("#"));
  expect(commands).toContain(command);
  // And nothing else npm-wise: no second install or test run that the README does not show.
  expect(commands.filter((line) => /\bnpm\b|\bnpx\b/.test(line))).toEqual([command]);
});
