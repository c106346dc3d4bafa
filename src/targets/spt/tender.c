/*
 * fata-spt-tender: the native fast path of `fata run` for spt images, so a
 * sealed unikernel costs one engine start, not two (a Node tender would be
 * a second one). Like solo5-spt it opens the devices named on the command
 * line, then becomes the engine: it denies io_uring_setup to what follows
 * (so libuv uses epoll and every call meets the seccomp filter), clears the
 * environment, moves the device descriptors to 3, 4, … and execs the pinned
 * engine on the spt bootstrap, which checks the devices against the image,
 * closes every other descriptor and seals before any service code runs.
 *
 * Anything it does not handle itself (a service folder, an image for
 * another target, --help, an unknown flag, a device that will not open)
 * is handed unchanged to the JavaScript CLI, which gives the full error.
 *
 * usage: fata-spt-tender NODE BOOTSTRAP CLI run [FLAGS] IMAGE [ARGS]
 * Built on first use by src/host/native.mjs with the system C compiler.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_DEV 16

static char **fallback_argv;

/* Hand the whole command to the JavaScript CLI. */
static void fallback(void) {
  execv(fallback_argv[0], fallback_argv);
  perror("fata: cannot start the engine");
  _exit(255);
}

struct dev { const char *name; const char *arg; const char *mac; int fd; int mtu; };

static char spec[65536];
static size_t spec_len;

static void put(const char *s) {
  size_t n = strlen(s);
  if (spec_len + n >= sizeof spec) fallback();
  memcpy(spec + spec_len, s, n);
  spec_len += n;
  spec[spec_len] = 0;
}

static void put_json(const char *s) {
  char buf[8];
  put("\"");
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') { buf[0] = '\\'; buf[1] = (char)*p; buf[2] = 0; put(buf); }
    else if (*p < 0x20) { snprintf(buf, sizeof buf, "\\u%04x", *p); put(buf); }
    else { buf[0] = (char)*p; buf[1] = 0; put(buf); }
  }
  put("\"");
}

/* "--net:NAME=VALUE" → name and value, or 0 if malformed. */
static int split(const char *arg, const char *prefix, const char **name, const char **value) {
  size_t n = strlen(prefix);
  if (strncmp(arg, prefix, n) != 0) return 0;
  const char *eq = strchr(arg + n, '=');
  if (!eq || eq == arg + n || !eq[1]) return 0;
  char *nm = strndup(arg + n, (size_t)(eq - arg - n));
  *name = nm;
  *value = eq + 1;
  return 1;
}

static int open_tap(const char *iface, int *mtu) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  if (strlen(iface) >= IFNAMSIZ) { close(fd); return -1; }
  strcpy(ifr.ifr_name, iface);
  /* IFF_VNET_HDR: frames carry a virtio-net header, so the engine and the kernel can hand
     each other 64 KB TCP packets (TSO both ways) with checksums left to the host. */
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4) < 0) { close(fd); return -1; }
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  *mtu = 1500;
  if (s >= 0) {
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, iface);
    if (ioctl(s, SIOCGIFMTU, &ifr) == 0) *mtu = ifr.ifr_mtu;
    close(s);
  }
  return fd;
}

/* "02:00:00:00:00:01": six hex pairs, and not a group address. */
static int unicast_mac(const char *m) {
  if (strlen(m) != 17) return 0;
  for (int i = 0; i < 17; i++) {
    if (i % 3 == 2) { if (m[i] != ':') return 0; }
    else if (!strchr("0123456789abcdefABCDEF", m[i]) || !m[i]) return 0;
  }
  unsigned first = (unsigned)strtoul(m, NULL, 16);
  return (first & 1) == 0;
}

/* The cached bootstrap bundle exists and is newer than every source listed in BUNDLE's .inputs file. */
static int bundle_fresh(const char *bundle) {
  struct stat b, s;
  if (stat(bundle, &b) != 0) return 0;
  char list[4096];
  size_t n = strlen(bundle);
  if (n < 4 || n + 4 >= sizeof list) return 0;
  memcpy(list, bundle, n - 4); /* .mjs → .inputs */
  strcpy(list + n - 4, ".inputs");
  FILE *f = fopen(list, "re");
  if (!f) return 0;
  char line[4096];
  int ok = 1, count = 0;
  while (ok && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    if (!line[0]) continue;
    count++;
    if (stat(line, &s) != 0) ok = 0;
    else if (s.st_mtim.tv_sec > b.st_mtim.tv_sec || (s.st_mtim.tv_sec == b.st_mtim.tv_sec && s.st_mtim.tv_nsec > b.st_mtim.tv_nsec)) ok = 0;
  }
  fclose(f);
  return ok && count > 0;
}

/* io_uring_setup fails with ENOSYS for this process and everything it execs (as the Node tender's filter). */
static int deny_io_uring(void) {
  struct sock_filter f[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 425 /* io_uring_setup */, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = { .len = sizeof f / sizeof f[0], .filter = f };
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
  return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

int main(int argc, char **argv) {
  if (argc < 5 || strcmp(argv[4], "run") != 0) { fprintf(stderr, "usage: fata-spt-tender NODE BOOTSTRAP CLI run ...\n"); return 2; }
  const char *node = argv[1], *bootstrap = argv[2];
  /* The fallback: NODE CLI run ARGS… (argv[3] is the CLI script). */
  fallback_argv = calloc((size_t)argc, sizeof(char *));
  fallback_argv[0] = argv[1];
  for (int i = 3; i < argc; i++) fallback_argv[i - 2] = argv[i];
  if (getenv("FATA_ENGINE_FLAGS") || getenv("FATA_SPT_SPAWN")) fallback();
  if (!bundle_fresh(bootstrap)) fallback(); /* The CLI rebuilds the bootstrap from its sources first. */

  struct dev nets[MAX_DEV], blocks[MAX_DEV];
  int nnets = 0, nblocks = 0;
  const char *macs_name[MAX_DEV], *macs_val[MAX_DEV];
  int nmacs = 0;
  char mem_flag[64] = "";
  int i = 5;
  for (; i < argc; i++) {
    const char *a = argv[i], *name, *value;
    if (strcmp(a, "--") == 0) { i++; break; }
    if (strncmp(a, "--", 2) != 0) break;
    if (strncmp(a, "--mem=", 6) == 0) {
      char *end;
      long mb = strtol(a + 6, &end, 10);
      if (*end || mb < 16) fallback();
      snprintf(mem_flag, sizeof mem_flag, "--max-old-space-size=%ld", mb);
    } else if (split(a, "--net:", &name, &value)) {
      if (nnets == MAX_DEV) fallback();
      nets[nnets++] = (struct dev){ name, value, NULL, -1, 1500 };
    } else if (split(a, "--net-mac:", &name, &value)) {
      if (nmacs == MAX_DEV || !unicast_mac(value)) fallback(); /* The CLI explains what is wrong with it. */
      macs_name[nmacs] = name; macs_val[nmacs++] = value;
    } else if (split(a, "--block:", &name, &value)) {
      if (nblocks == MAX_DEV) fallback();
      blocks[nblocks++] = (struct dev){ name, value, NULL, -1, 0 };
    } else fallback(); /* -t, --net=, --net-impair:, typos: the CLI decides. */
  }
  if (i >= argc) fallback();
  const char *image = argv[i++];
  for (int k = i; k < argc; k++) if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h")) fallback();

  /* An spt image file (its header names the target); a folder or another target goes to the CLI. */
  struct stat st;
  if (stat(image, &st) != 0 || !S_ISREG(st.st_mode)) fallback();
  char head[8192];
  int ifd = open(image, O_RDONLY | O_CLOEXEC);
  if (ifd < 0) fallback();
  ssize_t hn = read(ifd, head, sizeof head - 1);
  close(ifd);
  if (hn < 6) fallback();
  head[hn] = 0;
  if (strncmp(head, "FATA1 ", 6) != 0 || !strstr(head, "\"target\":\"spt\"")) fallback();
  char *abs = realpath(image, NULL);
  if (!abs) fallback();

  for (int k = 0; k < nmacs; k++) {
    int found = 0;
    for (int n = 0; n < nnets; n++) if (!strcmp(nets[n].name, macs_name[k])) { nets[n].mac = macs_val[k]; found = 1; }
    if (!found) fallback();
  }
  int total = 0;
  int opened[2 * MAX_DEV];
  for (int n = 0; n < nnets; n++) {
    int fd = open_tap(nets[n].arg, &nets[n].mtu);
    if (fd < 0) fallback(); /* The CLI says why and what to do. */
    opened[total++] = fd;
  }
  for (int b = 0; b < nblocks; b++) {
    int fd = open(blocks[b].arg, O_RDWR | O_CLOEXEC);
    struct stat bs;
    if (fd < 0 || fstat(fd, &bs) != 0 || !S_ISREG(bs.st_mode) || bs.st_size % 512 != 0 || bs.st_size == 0) fallback();
    opened[total++] = fd;
  }

  /* The spec the bootstrap reads: what Node's tender would pass. */
  put("{\"image\":"); put_json(abs); put(",\"nets\":[");
  for (int n = 0; n < nnets; n++) {
    char mac[18], num[64];
    if (nets[n].mac) snprintf(mac, sizeof mac, "%s", nets[n].mac);
    else {
      unsigned char r[6];
      if (getrandom(r, sizeof r, 0) != sizeof r) fallback();
      r[0] = (unsigned char)((r[0] & 0xfe) | 0x02); /* Unicast, locally administered. */
      snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", r[0], r[1], r[2], r[3], r[4], r[5]);
    }
    if (n) put(",");
    put("{\"name\":"); put_json(nets[n].name);
    snprintf(num, sizeof num, ",\"fd\":%d,\"mac\":", 3 + n); put(num); put_json(mac);
    snprintf(num, sizeof num, ",\"mtu\":%d}", nets[n].mtu); put(num);
  }
  put("],\"blocks\":[");
  for (int b = 0; b < nblocks; b++) {
    char num[32];
    if (b) put(",");
    put("{\"name\":"); put_json(blocks[b].name);
    snprintf(num, sizeof num, ",\"fd\":%d}", 3 + nnets + b); put(num);
  }
  put("],\"impair\":{},\"bootArgs\":[");
  for (int k = i; k < argc; k++) { if (k > i) put(","); put_json(argv[k]); }
  put("],\"tenderPid\":0,\"native\":true}");

  /* Descriptors to 3, 4, …: first out of the way, then into place without close-on-exec. */
  for (int k = 0; k < total; k++) {
    int high = fcntl(opened[k], F_DUPFD_CLOEXEC, 100);
    if (high < 0) fallback();
    close(opened[k]);
    opened[k] = high;
  }
  for (int k = 0; k < total; k++) {
    if (dup2(opened[k], 3 + k) < 0) { perror("fata: dup2"); return 255; }
    close(opened[k]);
  }
  if (deny_io_uring() != 0) { perror("fata: cannot prepare the sandbox (seccomp)"); return 255; }
  char *env[] = { "UV_USE_IO_URING=0", "TZ=UTC", NULL };
  char *args[8];
  int na = 0;
  args[na++] = (char *)node;
  args[na++] = "--max-semi-space-size=4";
  if (mem_flag[0]) args[na++] = mem_flag;
  args[na++] = (char *)bootstrap;
  args[na++] = spec;
  args[na] = NULL;
  execve(node, args, env);
  perror("fata: cannot start the engine");
  return 255;
}
