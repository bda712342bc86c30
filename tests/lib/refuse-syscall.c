/*
 * refuse-syscall WHAT COMMAND [ARG...]: runs COMMAND under a seccomp
 * filter that makes one kind of system call fail with EPERM, as the
 * filter of a sandbox or a container might:
 *
 *   clone-pidfd  clone(2) with CLONE_PIDFD: serve's own way of starting
 *                CGIs is refused, while fork and posix_spawn (clone3, or
 *                clone without that flag) still work;
 *   io-uring     io_uring_setup(2), as Docker's default profile refuses
 *                it: bench's io_uring engine cannot start.
 *
 * x86-64 only: elsewhere it exits 77 without running COMMAND.
 */
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOAD(field)	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, \
			    offsetof(struct seccomp_data, field))
#define ALLOW		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
#define REFUSE		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM)

int
main(int argc, char **argv)
{
#ifdef __x86_64__
	struct sock_filter clone_pidfd[] = {
		LOAD(arch),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		ALLOW,
		LOAD(nr),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 1, 0),
		ALLOW,
		/* The low half of the flags, on a little-endian machine. */
		LOAD(args[0]),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_PIDFD, 0, 1),
		REFUSE,
		ALLOW,
	};
	struct sock_filter io_uring[] = {
		LOAD(arch),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		ALLOW,
		LOAD(nr),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		REFUSE,
		ALLOW,
	};
	struct sock_fprog prog;

	if (argc < 3) {
		fprintf(stderr, "usage: refuse-syscall clone-pidfd | io-uring "
		    "command [arg ...]\n");
		return 64;
	}
	if (strcmp(argv[1], "clone-pidfd") == 0) {
		prog.len = sizeof(clone_pidfd) / sizeof(clone_pidfd[0]);
		prog.filter = clone_pidfd;
	} else if (strcmp(argv[1], "io-uring") == 0) {
		prog.len = sizeof(io_uring) / sizeof(io_uring[0]);
		prog.filter = io_uring;
	} else {
		fprintf(stderr, "refuse-syscall: %s: clone-pidfd or io-uring\n",
		    argv[1]);
		return 64;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == -1) {
		perror("refuse-syscall: seccomp");
		return 71;
	}
	execvp(argv[2], argv + 2);
	perror(argv[2]);
	return 127;
#else
	(void)argc;
	(void)argv;
	fprintf(stderr, "refuse-syscall: x86-64 only\n");
	return 77;
#endif
}
