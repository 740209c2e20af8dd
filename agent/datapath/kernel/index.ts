export { createKernelDatapath, type KernelDatapath, type KernelDatapathOptions } from './kernel-datapath.js';
export type { RootCounters, KernelMemberCounters } from './counters.js';
