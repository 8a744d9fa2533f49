#!/bin/sh
# tmpfs file churn: six jobs, each in its own memory cgroup under the recorder's,
# each writes 300 files on tmpfs and deletes 270 of them: 30 stay behind.
base=/sys/fs/cgroup/memory$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' /proc/self/cgroup)
mkdir -p /dev/shm/slabpolicy-churn
for j in 1 2 3 4 5 6; do
    mkdir "$base/job$j"
    sh -c "echo \$\$ > $base/job$j/cgroup.procs
           d=/dev/shm/slabpolicy-churn/job$j; mkdir \$d; i=0
           while [ \$i -lt 300 ]; do i=\$((i + 1)); echo data > \$d/f\$i; done
           cd \$d && rm \$(seq -f f%g 1 270)"
    sleep 0.3
    rmdir "$base/job$j"
done
