#!/bin/sh
# PID 1 of the test VM (see scripts/test-on-kernel): the host's root, read-only under a tmpfs overlay,
# is this machine's root too. Mounts what a Linux system needs, runs the command the host wrote into
# /mnt/out/command, leaves its output and exit status in /mnt/out, and powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/root/.pyenv/shims:/root/.pyenv/bin
export HOME=/root
# Emulated CPUs are slower: the tests' time bounds stretch by this (see test/support/time-scale.ts).
export SOCKTRACE_TEST_TIME_SCALE="$(cat /mnt/out/time-scale 2>/dev/null || echo 1)"
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts && mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup
ip link set lo up
hostname socktrace-vm
ulimit -n 65536
cd "$(cat /mnt/out/workdir)"
echo "guest kernel $(uname -r)" > /mnt/out/log
sh /mnt/out/command >> /mnt/out/log 2>&1
echo $? > /mnt/out/status
sync
echo o > /proc/sysrq-trigger
poweroff -f
