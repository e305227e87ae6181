/**
 * CPU and memory of other processes, read from /proc (Linux): utime+stime of every thread of a
 * process, and its resident set size.
 */
import { readFileSync } from 'node:fs';

// USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every Linux ABI Node supports.
const TICK_US = 10_000;

/** CPU time (user + system) a process has used so far, in microseconds; NaN if it is gone. */
export function cpuUs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after "(comm)": comm may contain spaces, so split after its closing parenthesis.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_US;
  } catch {
    return NaN;
  }
}

/** Resident set size in bytes (VmRSS); NaN if the process is gone. */
export function rssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * CPU time the whole machine has spent busy, and stolen by the hypervisor, in microseconds
 * (from the first line of /proc/stat).
 */
export function machineUs() {
  try {
    const f = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = f;
    return { busy: (user + nice + system + irq + softirq) * TICK_US, steal: (steal ?? 0) * TICK_US };
  } catch {
    return { busy: NaN, steal: NaN };
  }
}

/**
 * A CPU meter over a set of labelled pids plus this process: start() then stop() returns each
 * label's CPU microseconds and the wall time between, so cores = us / wallUs.
 */
export class CpuMeter {
  /** @param {Array<{ label: string, pid: number }>} procs */
  constructor(procs) {
    this.procs = procs;
  }

  start() {
    this.t0 = process.hrtime.bigint();
    this.before = this.procs.map((p) => cpuUs(p.pid));
    this.self0 = process.cpuUsage();
    this.machine0 = machineUs();
    return this;
  }

  /**
   * busyUs and stealUs are the whole machine's, so busyUs minus everything measured here is what
   * other tenants of a shared box used meanwhile.
   * @returns {{ wallUs: number, byLabel: Record<string, number>, selfUs: number, busyUs: number, stealUs: number }}
   */
  stop() {
    const m = machineUs();
    const wallUs = Number(process.hrtime.bigint() - this.t0) / 1000;
    const byLabel = {};
    this.procs.forEach((p, i) => {
      const used = cpuUs(p.pid) - this.before[i];
      byLabel[p.label] = (byLabel[p.label] ?? 0) + (Number.isFinite(used) ? used : 0);
    });
    const self = process.cpuUsage(this.self0);
    return { wallUs, byLabel, selfUs: self.user + self.system, busyUs: m.busy - this.machine0.busy, stealUs: m.steal - this.machine0.steal };
  }
}
