/** The machine a benchmark ran on, written into every bench/results/*.json so a figure is never read without it. */
import { readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";

export interface MachineInfo {
  cpuModel: string;
  /**
   * The processor's family and model numbers, where the model name does not tell hosts apart: a VM may name every AMD
   * host "AMD EPYC" (two such hosts of 2026-12-01, of families 25 and 26 by lscpu, differed about threefold in a
   * decision's CPU time).
   */
  cpuId?: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
}

/** @example machine() // { cpuModel: "AMD EPYC 7B13", cores: 2, memoryGiB: 24, node: "v20.20.2", platform: "linux x64" } */
export function machine(): MachineInfo {
  const list = cpus();
  const id = cpuId();
  return {
    cpuModel: list[0]?.model.trim() ?? "unknown",
    ...(id ? { cpuId: id } : {}),
    cores: list.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

/** "family 25, model 1" from /proc/cpuinfo (Linux on x86), or undefined. */
function cpuId(): string | undefined {
  let info: string;
  try {
    info = readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    return undefined;
  }
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(\\S+)`, "m").exec(info)?.[1];
  const family = field("cpu family");
  const model = field("model");
  return family && model ? `family ${family}, model ${model}` : undefined;
}
