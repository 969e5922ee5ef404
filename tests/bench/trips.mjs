// Round trips as the admin waits for them: requests that overlap in time form one round trip;
// a new one starts when all before it have ended. Shared by the benchmarks.

/** The number of sequential round trips among `requests` (`startMs`, `endMs` each). */
export function sequential(requests) {
  const sorted = [...requests].sort((a, b) => a.startMs - b.startMs);
  let trips = 0;
  let busyUntil = -Infinity;
  for (const r of sorted) {
    if (r.startMs >= busyUntil) trips += 1;
    busyUntil = Math.max(busyUntil, r.endMs);
  }
  return trips;
}
