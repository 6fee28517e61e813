/* The audit line of a replayed open (audit_line.h). Written digit by digit: gmtime_r takes the C
 * library's time-zone lock on every call and snprintf parses its format each time; with two
 * workers writing a line per open, the two were 4.6% of their CPU (perf, 8 clients). */
#include "audit_line.h"

#include <math.h>
#include <string.h>

/* Year, month (1..12) and day (1..31) of `days` since 1970-01-01 in the proleptic Gregorian
 * calendar, as Date and gmtime count them (Howard Hinnant's civil_from_days). */
static void civil_from_days(long long days, long long *year, unsigned *month, unsigned *day) {
  long long z = days + 719468;
  long long era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);                          /* [0, 146096] */
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
  unsigned mp = (5 * doy + 2) / 153;                                    /* [0, 11], from March */
  *day = doy - (153 * mp + 2) / 5 + 1;
  *month = mp < 10 ? mp + 3 : mp - 9;
  *year = (long long)yoe + era * 400 + (*month <= 2);
}

/* `v` in exactly `width` decimal digits (zero-padded); returns the end. */
static char *put_fixed(char *p, unsigned long long v, int width) {
  for (int i = width - 1; i >= 0; i--) {
    p[i] = (char)('0' + v % 10);
    v /= 10;
  }
  return p + width;
}

/* `v` in decimal, as JSON writes an integer; returns the end. */
static char *put_int(char *p, long long v) {
  char digits[24];
  int n = 0;
  unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
  do {
    digits[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) *p++ = '-';
  while (n) *p++ = digits[--n];
  return p;
}

static char *put_str(char *p, const char *s) {
  size_t n = strlen(s);
  memcpy(p, s, n);
  return p + n;
}

size_t pal_audit_line(char *out, size_t cap, double time_ms, pid_t pid, const char *tail, size_t tail_len,
                      int64_t latency_us) {
  /* Whole ms at or after the epoch, before year 10000 (fast_open takes them from CLOCK_REALTIME):
   * where Date#toISOString writes a 4-digit year. */
  if (!(time_ms >= 0 && time_ms < 253402300800000.0) || time_ms != floor(time_ms) || latency_us < 0) return 0;
  long long ms = (long long)time_ms;
  long long secs = ms / 1000;
  long long days = secs / 86400;
  unsigned sod = (unsigned)(secs % 86400);
  long long year;
  unsigned month, day;
  civil_from_days(days, &year, &month, &day);
  /* The parts around the tail, at most PAL_AUDIT_LINE_EXTRA bytes: time 24, pid ≤ 11, latency ≤ 19. */
  char head[64];
  char *h = put_str(head, "{\"time\":\"");
  h = put_fixed(h, (unsigned long long)year, 4);
  *h++ = '-';
  h = put_fixed(h, month, 2);
  *h++ = '-';
  h = put_fixed(h, day, 2);
  *h++ = 'T';
  h = put_fixed(h, sod / 3600, 2);
  *h++ = ':';
  h = put_fixed(h, sod / 60 % 60, 2);
  *h++ = ':';
  h = put_fixed(h, sod % 60, 2);
  *h++ = '.';
  h = put_fixed(h, (unsigned long long)(ms % 1000), 3);
  h = put_str(h, "Z\",\"pid\":");
  h = put_int(h, (long long)pid);
  char foot[48];
  char *f = put_str(foot, ",\"latency_us\":");
  f = put_int(f, (long long)latency_us);
  f = put_str(f, "}\n");
  size_t hlen = (size_t)(h - head), flen = (size_t)(f - foot);
  size_t len = hlen + tail_len + flen;
  if (len > cap) return 0;
  memcpy(out, head, hlen);
  memcpy(out + hlen, tail, tail_len);
  memcpy(out + hlen + tail_len, foot, flen);
  return len;
}
