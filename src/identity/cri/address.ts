// cri.address: the unix socket a node's CRI runtime serves on (kubelet's --container-runtime-endpoint).

/** Why an address is not unix:///absolute/path, or undefined when it is. */
export function criAddressProblem(address: string): string | undefined {
  if (!address.startsWith('unix:///')) return `${JSON.stringify(address)} is not unix:///absolute/path`;
  // sockaddr_un.sun_path holds 108 bytes with its NUL.
  if (Buffer.byteLength(address) - 'unix://'.length > 107)
    return `${JSON.stringify(address)} is too long for a socket path`;
  return undefined;
}
