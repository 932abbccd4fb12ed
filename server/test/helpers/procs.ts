/**
 * A process and its descendants, read from Linux's /proc (for the language-server soak and latency tests and the
 * benchmark): child processes, resident memory (VmRSS) and CPU time.
 */
import { readFileSync, readdirSync } from 'node:fs';

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Direct children of `pid` (every thread's /proc/<pid>/task/<tid>/children). */
export function childrenOf(pid: number): number[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out = new Set<number>();
  for (const t of tids) for (const c of (read(`/proc/${pid}/task/${t}/children`) ?? '').split(/\s+/)) if (c) out.add(Number(c));
  return [...out];
}

/** Every descendant of `pid` (children, their children, …). */
export function descendantsOf(pid: number): number[] {
  const out: number[] = [];
  const stack = [pid];
  while (stack.length) {
    for (const c of childrenOf(stack.pop()!)) {
      out.push(c);
      stack.push(c);
    }
  }
  return out;
}

/** Resident bytes of one process (VmRSS), 0 when it is gone. */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(read(`/proc/${pid}/status`) ?? '');
  return m ? Number(m[1]) * 1024 : 0;
}

/** Resident bytes of `pid` and all its descendants. */
export function treeRssBytes(pid: number): number {
  return [pid, ...descendantsOf(pid)].reduce((a, p) => a + rssBytes(p), 0);
}

/** CPU time (user + system clock ticks) of one process, 0 when it is gone. */
export function cpuTicks(pid: number): number {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return 0;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
}

/** The descendant of `pid` that has used the most CPU (the busy job process, not the idle spare), if any. */
export function busiestDescendant(pid: number): number | undefined {
  let best: number | undefined;
  let ticks = -1;
  for (const d of descendantsOf(pid)) {
    const t = cpuTicks(d);
    if (t > ticks) {
      ticks = t;
      best = d;
    }
  }
  return best;
}

/**
 * Whether `pid` has stopped: gone, or a zombie (terminated, its exit status not yet collected by its parent — it
 * runs no more code and its memory is freed).
 */
export function ended(pid: number): boolean {
  const stat = read(`/proc/${pid}/stat`);
  return stat === undefined || stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
}

/**
 * Resolves with the milliseconds until `pid` has ended (`ended`; with `reaped`, only once its parent collected it)
 * or is no longer a descendant of `parent`, or rejects after `ms`.
 */
export function waitGone(parent: number, pid: number, ms: number, reaped = false): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if ((!reaped && ended(pid)) || !descendantsOf(parent).includes(pid)) return resolve(performance.now() - t0);
      if (performance.now() - t0 > ms) return reject(new Error(`process ${pid} still running ${ms} ms later`));
      setTimeout(tick, 5);
    };
    tick();
  });
}
