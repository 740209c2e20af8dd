// Runs interface-bound kernel calls (ifindex lookup, link create, hook
// queries) inside the configured network namespace. setns(2) switches only the
// calling thread, i.e. Node's main thread, and we switch straight back; pins
// and links are netns-independent once created.

import { closeSync, openSync } from 'node:fs';
import * as bpf from '../libbpf.js';

export type InNetns = <T>(fn: () => T) => T;

export function netnsRunner(netnsPath: string | undefined): { run: InNetns; close: () => void } {
  if (!netnsPath) return { run: (fn) => fn(), close: () => {} };
  const home = openSync('/proc/thread-self/ns/net', 'r');
  const target = openSync(netnsPath, 'r');
  return {
    run: (fn) => {
      bpf.setNetns(target);
      try {
        return fn();
      } finally {
        bpf.setNetns(home);
      }
    },
    close: () => {
      closeSync(target);
      closeSync(home);
    },
  };
}
