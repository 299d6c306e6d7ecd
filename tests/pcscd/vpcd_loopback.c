/*
 * vpcd_loopback.c - preloaded into the project's pcscd (tests/vcards.sh):
 * every socket pcscd or a driver binds to "any address" is bound to
 * loopback instead.
 *
 * Why: vsmartcard's vpcd driver listens for its virtual cards with
 * bind(INADDR_ANY) and has no setting for the address, so any host on the
 * network could connect to the port and be a card in the project's reader
 * when a slot is free. vpcd's other form (DEVICENAME HOST:PORT: vpcd
 * connects to the card) would avoid the listener, but vpcd 0.8 (Debian 12)
 * aborts pcscd in that form as soon as a card is not connected (it polls an
 * invalid descriptor). pcscd itself listens only on its UNIX socket, so
 * this changes nothing else. tests/integration/13-vpcd-loopback.sh checks
 * the result with ss.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    static int (*real_bind)(int, const struct sockaddr *, socklen_t);

    if (real_bind == NULL)
        *(void **)&real_bind = dlsym(RTLD_NEXT, "bind");
    if (real_bind == NULL)
        return -1;
    if (addr != NULL && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in in;
        memcpy(&in, addr, sizeof in);
        if (in.sin_addr.s_addr == htonl(INADDR_ANY)) {
            in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            return real_bind(fd, (const struct sockaddr *)&in, sizeof in);
        }
    } else if (addr != NULL && addr->sa_family == AF_INET6 &&
               len >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 in6;
        memcpy(&in6, addr, sizeof in6);
        if (IN6_IS_ADDR_UNSPECIFIED(&in6.sin6_addr)) {
            in6.sin6_addr = in6addr_loopback;
            return real_bind(fd, (const struct sockaddr *)&in6, sizeof in6);
        }
    }
    return real_bind(fd, addr, len);
}
