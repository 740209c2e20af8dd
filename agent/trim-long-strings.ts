// Verifier logs can be megabytes, and the reconciler refuses a status report
// over its size limit (the host would then look unreachable): keep the tail of
// every long string, which is where the verifier states its reason.

export function trimLongStrings<T>(data: T, max = 4000): T {
  if (typeof data === 'string') return (data.length > max ? `…${data.slice(-max)}` : data) as T;
  if (Array.isArray(data)) return data.map((v) => trimLongStrings(v, max)) as T;
  if (data && typeof data === 'object') {
    return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, trimLongStrings(v, max)])) as T;
  }
  return data;
}
