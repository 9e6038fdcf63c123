/** The machine a benchmark ran on, written into every bench/results/*.json so a figure is never read without it. */
import { cpus, totalmem } from "node:os";

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
}

/** @example machine() // { cpuModel: "AMD EPYC 7B13", cores: 2, memoryGiB: 24, node: "v20.20.2", platform: "linux x64" } */
export function machine(): MachineInfo {
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? "unknown",
    cores: list.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}
