/*
 * fata-spt-tender: the native fast path of `fata run` for spt images, so a
 * sealed unikernel costs one engine start, not two (a Node tender would be
 * a second one). Like solo5-spt it opens the devices named on the command
 * line; then it forks. The child is the engine-to-be: in new PID, IPC, UTS
 * and network namespaces and a memory cgroup (when root can make them), in
 * a session of its own, with /dev/null for input, a pipe for its console,
 * the device descriptors at 3, 4, … and nothing else open, no core dumps,
 * a bounding set cut to what the bootstrap's privilege drop needs, and
 * io_uring_setup denied (so libuv uses epoll and every call meets the
 * seccomp filter), it execs the pinned engine on the spt bootstrap, which
 * checks the devices against the image, drops to an unprivileged account
 * and seals before any service code runs. The parent stays as a small
 * supervisor: it relays the console with control characters made visible
 * (src/tender/console-relay.ts states the rule), forwards SIGTERM, SIGINT
 * and SIGHUP, says why the engine stopped when a signal stopped it (out of
 * memory above all), removes the cgroup, and exits with the engine's code.
 *
 * Anything it does not handle itself (a service folder, an image for
 * another target, --help, an unknown flag, a device that will not open)
 * is handed unchanged to the JavaScript CLI, which gives the full error.
 *
 * usage: fata-spt-tender NODE BOOTSTRAP CLI run [FLAGS] IMAGE [ARGS]
 * Built on first use by src/host/native.ts with the system C compiler.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
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
  if (strlen(iface) >= IFNAMSIZ || strchr(iface, ',') || strchr(iface, '/')) { close(fd); return -1; }
  /* Only an existing tap: TUNSETIFF would create a missing one, down and with no address. The CLI says what to do. */
  char sys[64];
  snprintf(sys, sizeof sys, "/sys/class/net/%s/tun_flags", iface);
  if (access(sys, F_OK) != 0) { close(fd); return -1; }
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
  memcpy(list, bundle, n - 4); /* bootstrap.cjs → bootstrap.inputs */
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


/* ---- The memory cgroup (as src/tender/cgroup.ts) ---- */

static char cg_path[4096];
static int cg_v2;

static int write_file(const char *dir, const char *name, const char *value) {
  char p[4200];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  int fd = open(p, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, value, strlen(value));
  close(fd);
  return n == (ssize_t)strlen(value) ? 0 : -1;
}

static int read_file(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  if (n < 0) return -1;
  buf[n] = 0;
  return 0;
}

/* Removes cgroups named after a tender that no longer runs (its pid ends the name). */
static void sweep(const char *dir, const char *prefix) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
    const char *dash = strrchr(e->d_name, '-');
    if (!dash || !dash[1] || strspn(dash + 1, "0123456789") != strlen(dash + 1)) continue;
    char proc[300], p[4400];
    snprintf(proc, sizeof proc, "/proc/%s", dash + 1);
    if (access(proc, F_OK) == 0) continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    rmdir(p);
  }
  closedir(d);
}

static void make_cgroup(const char *name, long mem_mb) {
  char buf[8192], bytes[32];
  snprintf(bytes, sizeof bytes, "%ld", mem_mb * 1024 * 1024);
  if (geteuid() != 0) return;
  if (read_file("/sys/fs/cgroup/cgroup.controllers", buf, sizeof buf) == 0 && strstr(buf, "memory")) {
    mkdir("/sys/fs/cgroup/fata", 0755);
    if (read_file("/sys/fs/cgroup/fata/cgroup.subtree_control", buf, sizeof buf) != 0 || !strstr(buf, "memory"))
      write_file("/sys/fs/cgroup/fata", "cgroup.subtree_control", "+memory");
    sweep("/sys/fs/cgroup/fata", "");
    snprintf(cg_path, sizeof cg_path, "/sys/fs/cgroup/fata/%s-%d", name, (int)getpid());
    if (mkdir(cg_path, 0755) != 0 || write_file(cg_path, "memory.max", bytes) != 0) { rmdir(cg_path); cg_path[0] = 0; return; }
    write_file(cg_path, "memory.swap.max", "0");
    cg_v2 = 1;
    return;
  }
  if (read_file("/proc/self/cgroup", buf, sizeof buf) != 0) return;
  for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
    char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) continue;
    *c2 = 0;
    char ctl[256];
    snprintf(ctl, sizeof ctl, ",%s,", c1 + 1);
    if (!strstr(ctl, ",memory,")) continue;
    char parent[3900];
    snprintf(parent, sizeof parent, "/sys/fs/cgroup/memory%s", c2 + 1);
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/memory.limit_in_bytes", parent);
    if (access(probe, F_OK) != 0) return;
    sweep(parent, "fata-");
    snprintf(cg_path, sizeof cg_path, "%s/fata-%s-%d", parent, name, (int)getpid());
    if (mkdir(cg_path, 0755) != 0 || write_file(cg_path, "memory.limit_in_bytes", bytes) != 0) { rmdir(cg_path); cg_path[0] = 0; return; }
    write_file(cg_path, "memory.memsw.limit_in_bytes", bytes);
    return;
  }
}

static long oom_kills(void) {
  char p[4200], buf[4096];
  if (!cg_path[0]) return 0;
  snprintf(p, sizeof p, "%s/%s", cg_path, cg_v2 ? "memory.events" : "memory.oom_control");
  if (read_file(p, buf, sizeof buf) != 0) return 0;
  char *k = strstr(buf, "oom_kill ");
  return k ? strtol(k + 9, NULL, 10) : 0;
}

/* ---- The console relay (the rule of src/tender/console-relay.ts) ---- */

static int plain(unsigned char b) { return b == 0x09 || b == 0x0a || (b >= 0x20 && b < 0x7f) || (b > 0x7f && b != 0xc2); }

/* Tab and newline pass; other C0 controls and DEL become \xNN, UTF-8 C1 controls (C2 80..9F) \u00NN. out holds 6n+1. */
static size_t sanitize(const unsigned char *in, size_t n, char *out, int *pending_c2) {
  static const char hex[] = "0123456789abcdef";
  size_t o = 0, i = 0;
  if (*pending_c2) {
    *pending_c2 = 0;
    if (n > 0 && in[0] >= 0x80 && in[0] <= 0x9f) { memcpy(out + o, "\\u00", 4); o += 4; out[o++] = hex[in[0] >> 4]; out[o++] = hex[in[0] & 15]; i = 1; }
    else out[o++] = (char)0xc2;
  }
  for (; i < n; i++) {
    unsigned char b = in[i];
    if (plain(b)) out[o++] = (char)b;
    else if (b == 0xc2) {
      if (i + 1 == n) *pending_c2 = 1;
      else if (in[i + 1] >= 0x80 && in[i + 1] <= 0x9f) { memcpy(out + o, "\\u00", 4); o += 4; out[o++] = hex[in[i + 1] >> 4]; out[o++] = hex[in[i + 1] & 15]; i++; }
      else out[o++] = (char)b;
    } else { out[o++] = '\\'; out[o++] = 'x'; out[o++] = hex[b >> 4]; out[o++] = hex[b & 15]; }
  }
  return o;
}

/* Writes all of it (waiting for room if the caller's descriptor is non-blocking); drops it if the reader is gone. */
static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w > 0) { p += w; n -= (size_t)w; continue; }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) { struct pollfd pf = { fd, POLLOUT, 0 }; poll(&pf, 1, 1000); continue; }
    return;
  }
}

static volatile pid_t engine_pid;
static void forward(int sig) { if (engine_pid > 0) kill(engine_pid, sig); }

static const char *signal_name(int sig) {
  switch (sig) {
    case SIGKILL: return "SIGKILL"; case SIGABRT: return "SIGABRT"; case SIGSEGV: return "SIGSEGV";
    case SIGTERM: return "SIGTERM"; case SIGINT: return "SIGINT"; case SIGBUS: return "SIGBUS";
    case SIGTRAP: return "SIGTRAP"; case SIGILL: return "SIGILL"; case SIGHUP: return "SIGHUP";
    default: return "a signal";
  }
}

/* Bounding-set entries the bootstrap still needs as root: read the image (DAC), then drop uid and gid. */
static int kept_capability(int cap) { return cap == 1 /* DAC_OVERRIDE */ || cap == 2 /* DAC_READ_SEARCH */ || cap == 6 /* SETGID */ || cap == 7 /* SETUID */; }

int main(int argc, char **argv) {
  if (argc < 5 || strcmp(argv[4], "run") != 0) { fprintf(stderr, "usage: fata-spt-tender NODE BOOTSTRAP CLI run ...\n"); return 2; }
  const char *node = argv[1], *bootstrap = argv[2];
  /* The fallback: NODE CLI run ARGS… (argv[3] is the CLI script). */
  fallback_argv = calloc((size_t)argc, sizeof(char *));
  fallback_argv[0] = argv[1];
  for (int i = 3; i < argc; i++) fallback_argv[i - 2] = argv[i];
  /* A unikernel dies with whatever started it (npx, a shell script, a test runner), even one that does not
     pass its own SIGTERM on: SIGTERM when our parent goes; the supervisor below stops the engine. */
  pid_t parent = getppid();
  prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
  if (getppid() != parent) return 255;
  if (getenv("FATA_ENGINE_FLAGS") || getenv("FATA_SPT_SPAWN")) fallback();
  if (!bundle_fresh(bootstrap)) fallback(); /* The CLI rebuilds the bootstrap from its sources first. */

  struct dev nets[MAX_DEV], blocks[MAX_DEV];
  int nnets = 0, nblocks = 0;
  const char *macs_name[MAX_DEV], *macs_val[MAX_DEV];
  int nmacs = 0;
  char mem_flag[64] = "";
  long mem_mb = 512; /* DEFAULT_MEM_MB in src/tender/launch.ts, as solo5-hvt's */
  int mem_given = 0;
  const char *user = "";
  int i = 5;
  for (; i < argc; i++) {
    const char *a = argv[i], *name, *value;
    if (strcmp(a, "--") == 0) { i++; break; }
    if (strncmp(a, "--", 2) != 0) break;
    if (strncmp(a, "--mem=", 6) == 0) {
      char *end;
      long mb = strtol(a + 6, &end, 10);
      if (*end || mb < 64 || mb > 1 << 20) fallback(); /* MIN_MEM_MB in src/tender/flags.ts; the CLI explains. */
      mem_mb = mb;
      mem_given = 1;
    } else if (strncmp(a, "--user=", 7) == 0) {
      user = a + 7;
      if (!*user) fallback();
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
  char mem_json[64];
  snprintf(mem_json, sizeof mem_json, "],\"memMb\":%ld,\"user\":", mem_mb);
  put(mem_json); put_json(user);
  put(",\"cgroup\":null,\"native\":true}");
  /* V8's own heap limit only when --mem is given (as run.ts: V8 sizes its heap growth by it). */
  if (mem_given) snprintf(mem_flag, sizeof mem_flag, "--max-old-space-size=%ld", mem_mb);

  /* The cgroup's name: the image file's, without the folder and the extension. */
  char cg_name[64];
  const char *base = strrchr(abs, '/') ? strrchr(abs, '/') + 1 : abs;
  size_t bn = 0;
  for (; base[bn] && base[bn] != '.' && bn < sizeof cg_name - 1; bn++)
    cg_name[bn] = (isalnum((unsigned char)base[bn]) || base[bn] == '-' || base[bn] == '_') ? base[bn] : '_';
  cg_name[bn] = 0;
  make_cgroup(cg_name, mem_mb);

  int out[2], err[2];
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 || devnull < 0) { perror("fata: cannot make the console pipes"); return 255; }
  /* The second wall, for root: the engine sees no other process, no host network, IPC or hostname. */
  if (geteuid() == 0 && unshare(CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET) != 0)
    fprintf(stderr, "fata run: note: no namespaces for the engine (%s); the seal still holds\n", strerror(errno));

  pid_t child = fork();
  if (child < 0) { perror("fata: fork"); return 255; }
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    close(out[0]);
    close(err[0]);
    if (cg_path[0] && write_file(cg_path, "cgroup.procs", "0") != 0) { perror("fata: cannot join the memory cgroup"); _exit(255); }
    setsid(); /* No controlling terminal: nothing to inject input into; ^C reaches the supervisor. */
    struct rlimit none = { 0, 0 };
    setrlimit(RLIMIT_CORE, &none);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    for (int cap = 0; cap <= 63; cap++) if (!kept_capability(cap)) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
    /* Everything to 100 and above first (close-on-exec), then into place: 0 /dev/null, 1 and 2 the console pipes, 3… devices. */
    int src[3 + 2 * MAX_DEV], n = 0;
    src[n++] = devnull; src[n++] = out[1]; src[n++] = err[1];
    for (int k = 0; k < total; k++) src[n++] = opened[k];
    for (int k = 0; k < n; k++) {
      int high = fcntl(src[k], F_DUPFD_CLOEXEC, 100);
      if (high < 0) { perror("fata: fcntl"); _exit(255); }
      src[k] = high;
    }
    for (int k = 0; k < n; k++) if (dup2(src[k], k) < 0) { perror("fata: dup2"); _exit(255); }
    /* Nothing else crosses the exec: whatever our own caller leaked to us stays behind. */
    if (syscall(SYS_close_range, 3 + total, ~0U, 0) != 0) { for (int fd = 3 + total; fd < 65536; fd++) close(fd); }
    if (deny_io_uring() != 0) { perror("fata: cannot prepare the sandbox (seccomp)"); _exit(255); }
    /* The supervisor may have died before the parent-death signal was armed: its end of our console is gone then. */
    struct pollfd pf = { 1, 0, 0 };
    if (poll(&pf, 1, 0) > 0 && (pf.revents & POLLERR)) _exit(255);
    char *env[] = { "UV_USE_IO_URING=0", "TZ=UTC", NULL };
    char *args[8];
    int na = 0;
    args[na++] = (char *)node;
    args[na++] = "--max-semi-space-size=4";
    args[na++] = "--invocation-count-for-maglev=1000"; /* MAGLEV_AFTER in src/tender/run.ts: why there */
    if (mem_flag[0]) args[na++] = mem_flag;
    args[na++] = (char *)bootstrap;
    args[na++] = spec;
    args[na] = NULL;
    execve(node, args, env);
    perror("fata: cannot start the engine");
    _exit(255);
  }

  /* The supervisor. */
  engine_pid = child;
  for (int k = 0; k < total; k++) close(opened[k]);
  close(out[1]);
  close(err[1]);
  close(devnull);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  struct pollfd pfd[2] = { { out[0], POLLIN, 0 }, { err[0], POLLIN, 0 } };
  int dest[2] = { 1, 2 }, pending[2] = { 0, 0 }, open_pipes = 2, said_oom = 0;
  static unsigned char in[65536];
  static char clean[6 * 65536 + 8];
  int status = 0, reaped = 0;
  struct timespec orphaned = { 0, 0 };
  while (open_pipes > 0 || !reaped) {
    int ready = poll(pfd, 2, 500);
    if (!reaped && waitpid(child, &status, WNOHANG) == child) reaped = 1;
    /* Our parent went (its SIGTERM is already forwarded): a service that ignores SIGTERM gets 5 s, then SIGKILL. */
    if (getppid() != parent && !reaped) {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      if (!orphaned.tv_sec) { orphaned = now; kill(child, SIGTERM); }
      else if (now.tv_sec - orphaned.tv_sec >= 5) kill(child, SIGKILL);
    }
    if (ready <= 0) { if (ready < 0 && errno != EINTR) break; continue; }
    for (int k = 0; k < 2; k++) {
      if (pfd[k].fd < 0 || !(pfd[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t r = read(pfd[k].fd, in, sizeof in);
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (r <= 0) {
        if (pending[k]) write_all(dest[k], "\xc2", 1);
        close(pfd[k].fd);
        pfd[k].fd = -1;
        open_pipes--;
        continue;
      }
      size_t m = sanitize(in, (size_t)r, clean, &pending[k]);
      clean[m] = 0;
      if (k == 1 && (strstr(clean, "out of memory") || strstr(clean, "Out of memory"))) said_oom = 1;
      write_all(dest[k], clean, m);
    }
  }
  if (!reaped) while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
  long ooms = oom_kills();
  if (cg_path[0]) rmdir(cg_path);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  /* As exitReason in src/tender/run.ts. */
  if (ooms > 0 || said_oom)
    fprintf(stderr, "fata: error FATA_OUT_OF_MEMORY: the unikernel exceeded its memory limit (--mem=%ld MB) and was stopped; give it more with --mem=MB\n", mem_mb);
  else if (sig == SIGSYS)
    fprintf(stderr, "fata: error FATA_SEALED: the unikernel made a system call of a foreign architecture and the seal stopped it\n");
  else if (sig == SIGXFSZ)
    fprintf(stderr, "fata: error FATA_FILE_SIZE: the unikernel wrote past the size of its block device and was stopped\n");
  else
    fprintf(stderr, "fata: error FATA_KILLED: the unikernel was stopped by %s\n", signal_name(sig));
  return 255;
}
