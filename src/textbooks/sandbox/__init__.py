"""The sandbox every stage that runs untrusted code goes through (paper Table 1: phi-1 is judged by
executing its code against unit tests): evaluation runs completions in it, exercise verification
runs solutions against their asserts. It imports nothing of the stages that use it.

    from textbooks.sandbox.pool import Limits, Sandbox

    with Sandbox(workers=2, limits=Limits(timeout_s=3)) as sandbox:
        results = sandbox.run_many(programs)        # [Result(outcome=Outcome.PASSED, ...), ...]

A program PASSES only if its whole source ran to its end without an exception and the pass was then
signalled positively; exiting early (sys.exit, os._exit, SystemExit) or faking success fails.

How it is isolated (each point is reported in `Result.isolation`, with the reason when the
kernel or the privileges do not allow it):
- one worker process ("zygote") per core, started once under unshare(1) as pid 1 of new pid,
  network, mount and IPC namespaces, with no_new_privs. It has imported Python and the common
  modules, and forks a fresh child per program (~1 ms, instead of ~20 ms for a new interpreter);
- the child gets its own session, a fresh directory (removed after), a scrubbed environment,
  rlimits on CPU time, address space, processes and file size, and, when we are root, an
  unprivileged uid leased for the worker, so the limits bind and it cannot signal its parent;
- no network: the network namespace has only a loopback interface, and it is down;
- private tmpfs over /tmp, /var/tmp, /run/lock (not writable by the program) and /dev/shm
  (emptied after every program), so it can write nowhere but its own directory; if the
  interpreter lives where other uids cannot go (pyenv under /root), that ancestor is covered
  too and only the interpreter's directories are bound back, read-only;
- a wall-clock timeout, after which the zygote SIGKILLs every process in its pid namespace:
  process groups, new sessions and double forks included; nothing outlives its program, and
  if the zygote itself dies the kernel ends its whole namespace;
- stdout and stderr go to memfds (RLIMIT_FSIZE bounds them), read back capped to `output_bytes`;
- an audit hook (PEP 578) in the child refuses what could forge the pass signal and, as a second
  layer under the OS, writes outside the program's directory and socket use.
The parent (`pool`) talks to each zygote with JSON lines (`Job` out, `Reply` back, `_protocol`);
the zygote's side is `_worker`, its one-time setup `_worker_setup`, a program's directory `_rundir`
and the forked child `_child`. This module itself stays empty: the zygote imports it, and all it
imports would be copied by every fork.
"""
