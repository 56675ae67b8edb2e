// cpuid-mask: runs a program as if on an x86-64 CPU without AVX-512, by CPUID faulting.
//
// Loaded with LD_PRELOAD, it asks Linux to make every CPUID instruction of the process fault
// (arch_prctl(ARCH_SET_CPUID, 0); the CPU must report the `cpuid_fault` flag in /proc/cpuinfo, and the
// setting is per thread, kept by the threads the process creates and reset by execve). Its SIGSEGV handler
// executes each trapped CPUID with faulting briefly off, clears the AVX-512 feature bits (leaf 7: AVX512F,
// DQ, IFMA, PF, ER, CD, BW, VL, VBMI, VBMI2, VNNI, BITALG, VPOPCNTDQ, 4VNNIW, 4FMAPS, VP2INTERSECT, FP16;
// leaf 7.1: BF16, AVX10; leaf 0xD: the opmask and ZMM state components) and resumes after the instruction.
// Everything that picks its kernels by CPUID (the .NET JIT, ONNX Runtime's MLAS, libtorch, MKL, oneDNN)
// then picks its AVX2 kernels, as on a CPU that has none of AVX-512. XGETBV is not trapped.
//
// The program's own SIGSEGV handler is recorded rather than installed, and other faults are passed to it.
// The .NET runtime does not recover from a fault passed on this way: a process that raises a
// NullReferenceException from a null dereference ends with "Segmentation fault" under this shim. The
// benchmark and peer programs raise none.
//
// Build and use (docs/peers.md):
//   gcc -O2 -shared -fPIC -o /tmp/cpuid-mask.so benchmarks/cpuid-mask/cpuid-mask.c -ldl
//   LD_PRELOAD=/tmp/cpuid-mask.so dotnet PROGRAM.dll ...
// CPUID_MASK_VERBOSE=1 reports at exit how many CPUID instructions were trapped (only at start-up for the
// programs above: 59 for the ONNX Runtime probe).
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <cpuid.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

static struct sigaction program_action;
static int (*libc_sigaction)(int, const struct sigaction *, struct sigaction *);
static long trapped;

static void clear_avx512(uint32_t leaf, uint32_t subleaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
    if (leaf == 7 && subleaf == 0)
    {
        *b &= ~((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 30) | (1u << 31));
        *c &= ~((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14));
        *d &= ~((1u << 2) | (1u << 3) | (1u << 8) | (1u << 23));
    }
    else if (leaf == 7 && subleaf == 1)
    {
        *a &= ~(1u << 5);
        *d &= ~(1u << 19);
    }
    else if (leaf == 0xD && subleaf == 0)
    {
        *a &= ~0xE0u;
    }
}

static void on_segv(int signal, siginfo_t *info, void *context)
{
    greg_t *r = ((ucontext_t *)context)->uc_mcontext.gregs;
    const uint8_t *ip = (const uint8_t *)r[REG_RIP];
    if (info->si_code == SI_KERNEL && ip[0] == 0x0F && ip[1] == 0xA2)
    {
        uint32_t leaf = (uint32_t)r[REG_RAX], subleaf = (uint32_t)r[REG_RCX], a, b, c, d;
        syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
        __cpuid_count(leaf, subleaf, a, b, c, d);
        syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
        clear_avx512(leaf, subleaf, &a, &b, &c, &d);
        r[REG_RAX] = a;
        r[REG_RBX] = b;
        r[REG_RCX] = c;
        r[REG_RDX] = d;
        r[REG_RIP] += 2;
        __atomic_add_fetch(&trapped, 1, __ATOMIC_RELAXED);
        return;
    }

    if (program_action.sa_flags & SA_SIGINFO)
        program_action.sa_sigaction(signal, info, context);
    else if (program_action.sa_handler != SIG_DFL && program_action.sa_handler != SIG_IGN)
        program_action.sa_handler(signal);
    else
    {
        struct sigaction fallback = { .sa_handler = SIG_DFL };
        libc_sigaction(SIGSEGV, &fallback, NULL); // the fault repeats and ends the process as it would have
    }
}

static void install(int flags, const sigset_t *mask)
{
    struct sigaction action = { .sa_sigaction = on_segv, .sa_flags = (flags | SA_SIGINFO) & ~SA_RESETHAND };
    if (mask)
        action.sa_mask = *mask;
    else
        sigemptyset(&action.sa_mask);
    libc_sigaction(SIGSEGV, &action, NULL);
}

// The program's SIGSEGV registrations are recorded; the shim's handler stays installed (with their flags).
int sigaction(int signal, const struct sigaction *action, struct sigaction *previous)
{
    if (!libc_sigaction)
        libc_sigaction = dlsym(RTLD_NEXT, "sigaction");
    if (signal != SIGSEGV)
        return libc_sigaction(signal, action, previous);
    if (previous)
        *previous = program_action;
    if (action)
    {
        program_action = *action;
        install(action->sa_flags, &action->sa_mask);
    }
    return 0;
}

static void report(void)
{
    if (getenv("CPUID_MASK_VERBOSE"))
        fprintf(stderr, "cpuid-mask: %ld CPUID instructions trapped in process %d\n", trapped, (int)getpid());
}

__attribute__((constructor)) static void start(void)
{
    libc_sigaction = dlsym(RTLD_NEXT, "sigaction");
    program_action.sa_handler = SIG_DFL;
    install(SA_ONSTACK, NULL);
    if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0)
    {
        perror("cpuid-mask: arch_prctl(ARCH_SET_CPUID) (does /proc/cpuinfo list cpuid_fault?)");
        _exit(97);
    }
    atexit(report);
}
