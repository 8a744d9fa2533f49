#!/bin/sh
# a small C build in a scratch directory on tmpfs: four units compiled, linked, run,
# and the object files removed; the sources and the binary stay until the end.
d=/dev/shm/slabpolicy-build; rm -rf $d; mkdir -p $d; cd $d
for u in a b c d; do
    printf '#include <stdio.h>\nint %s(int x) { return x * %d; }\n' "f$u" "$(printf %d "'$u")" > $u.c
done
printf 'int fa(int);int fb(int);int fc(int);int fd(int);\nint main(void){return (fa(1)+fb(2)+fc(3)+fd(4)) & 1;}\n' > main.c
gcc -O2 -c a.c b.c c.c d.c main.c && gcc -o prog a.o b.o c.o d.o main.o && ./prog; rm -f *.o
