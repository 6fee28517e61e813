/* The audit line of a replayed open (audit_line.h). */
#include "audit_line.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

size_t pal_audit_line(char *out, size_t cap, double time_ms, pid_t pid, const char *tail, size_t tail_len,
                      int64_t latency_us) {
  /* Whole ms at or after the epoch (fast_open takes them from CLOCK_REALTIME): what the C library's
   * gmtime and Date agree on without a second thought. */
  if (!(time_ms >= 0 && time_ms < 253402300800000.0) || time_ms != floor(time_ms) || latency_us < 0) return 0;
  long long ms = (long long)time_ms;
  time_t sec = (time_t)(ms / 1000);
  struct tm tm;
  if (!gmtime_r(&sec, &tm)) return 0;
  char head[80];
  int h = snprintf(head, sizeof head, "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\",\"pid\":%d",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                   (int)(ms % 1000), (int)pid);
  char foot[48];
  int f = snprintf(foot, sizeof foot, ",\"latency_us\":%lld}\n", (long long)latency_us);
  if (h <= 0 || (size_t)h >= sizeof head || f <= 0 || (size_t)f >= sizeof foot) return 0;
  size_t len = (size_t)h + tail_len + (size_t)f;
  if (len > cap) return 0;
  memcpy(out, head, (size_t)h);
  memcpy(out + h, tail, tail_len);
  memcpy(out + h + tail_len, foot, (size_t)f);
  return len;
}
