// Where "host" ends. SPEC §4: a caller is host only in pald's own pid and mount namespaces — a
// cgroup that names no container we know says nothing about where a process runs (ctr, Garden,
// rootless runtimes). pald's own namespaces are read once at start; what cannot be read is a
// warning for `pal status`, and then no caller is host.

import { errorMessage } from '../shared/error-message.js';
import { checkPidNamespace, readNamespaces, type HostNamespaces, type PidNamespaceCheck } from './procfs.js';

export class HostScope {
  /** The startup check of pald's pid namespace. */
  readonly pidNamespace: PidNamespaceCheck;
  /** Startup problems, for `pal status`. */
  readonly warnings: readonly string[];
  private readonly own: HostNamespaces | undefined;
  private readonly ownProblem: string = '';

  constructor(
    private readonly procRoot: string,
    log: (msg: string) => void,
  ) {
    const warnings: string[] = [];
    this.pidNamespace = checkPidNamespace(procRoot);
    try {
      this.own = readNamespaces(procRoot, 'self');
    } catch (err) {
      this.ownProblem = `pald cannot read its own namespaces (${errorMessage(err)}): no caller can be recognised as host`;
      warnings.push(this.ownProblem);
      log(`WARNING: ${this.ownProblem}`);
    }
    if (this.pidNamespace.hostPidNamespace !== true) {
      const warning =
        `pald must run in the host pid namespace to attribute callers (${this.pidNamespace.detail}); ` +
        'callers outside it cannot be identified and will be denied';
      warnings.push(warning);
      log(`WARNING: ${warning}`);
    }
    this.warnings = warnings;
  }

  /** Why a process whose cgroups name no container is not host, or undefined when it is. */
  outside(pid: number): string | undefined {
    if (this.own === undefined) return this.ownProblem;
    let theirs: HostNamespaces;
    try {
      theirs = readNamespaces(this.procRoot, pid);
    } catch (err) {
      return `no container id in its cgroups, and its namespaces are not readable: ${errorMessage(err)}`;
    }
    if (theirs.pid !== this.own.pid) {
      return `no known container in its cgroups, but in pid namespace ${theirs.pid}, not pald's ${this.own.pid}`;
    }
    if (theirs.mnt !== this.own.mnt) {
      return `no known container in its cgroups, but in mount namespace ${theirs.mnt}, not pald's ${this.own.mnt}`;
    }
    return undefined;
  }
}
