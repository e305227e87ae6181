/**
 * One loopback source address per client (127.<octet>.<x>.<y>), so no address runs short of
 * ephemeral ports and TIME_WAIT sockets of a previous run (another octet) do not collide.
 */
export function localAddress(octet, index) {
  return `127.${octet}.${Math.floor(index / 250) & 255}.${1 + (index % 250)}`;
}
