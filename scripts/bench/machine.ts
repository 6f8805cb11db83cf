/** What the figures were measured on, for the report. */
import { readFileSync } from "node:fs";
import { availableParallelism, loadavg, release, totalmem } from "node:os";

export interface Machine {
  nproc: number;
  cpuModel: string;
  node: string;
  kernel: string;
  memoryGiB: number;
  date: string;
}

export function machine(): Machine {
  let cpuModel = "unknown";
  try {
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim() ?? "unknown";
  } catch {
    // not Linux
  }
  return {
    nproc: availableParallelism(),
    cpuModel,
    node: process.version,
    kernel: `Linux ${release()}`,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
  };
}

/** 1-minute load average: how busy the machine was apart from this run. */
export function load(): number {
  return Math.round(loadavg()[0]! * 100) / 100;
}
