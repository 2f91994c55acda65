/*
 * fsync-rate.c - the physical limit of durable commits on one disk: how
 * many append + fdatasync (or fsync) rounds per second a single writer
 * gets, the cost of one WAL commit under synchronous=FULL.
 *
 *   cc -O2 -o build/fsync-rate bench/store/fsync-rate.c
 *   build/fsync-rate DIR [SECONDS] [fsync|fdatasync]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: fsync-rate DIR [SECONDS] [fsync|fdatasync]\n");
        return 2;
    }
    double secs = argc > 2 ? atof(argv[2]) : 5.0;
    int full = argc > 3 && !strcmp(argv[3], "fsync");
    char path[4096];
    snprintf(path, sizeof(path), "%s/fsync-rate.%ld", argv[1], (long)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    char page[4096];
    memset(page, 'x', sizeof(page));
    long n = 0;
    double start = now(), end = start + secs;
    while (now() < end) {
        /* One WAL frame appended, then made durable. */
        if (write(fd, page, sizeof(page)) != (ssize_t)sizeof(page) ||
            (full ? fsync(fd) : fdatasync(fd)) != 0) {
            perror("write/sync");
            break;
        }
        n++;
        if (n % 4096 == 0 && lseek(fd, 0, SEEK_SET) < 0)
            break;
    }
    double took = now() - start;
    close(fd);
    unlink(path);
    printf("%s/s %.0f (%ld in %.2f s, 4 KiB appended each)\n",
           full ? "fsync" : "fdatasync", (double)n / took, n, took);
    return 0;
}
