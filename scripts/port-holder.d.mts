export interface Listener {
  readonly address: string;
  readonly port: number;
  readonly inode: number;
}
export function decodeAddress(hex: string): string;
export function parseListeners(text: string): Listener[];
export function listeners(port: number): Listener[];
export function pidsHolding(inodes: Iterable<number>): number[];
export function describeHolder(port: number): string;
export function probePort(host: string, port: number): Promise<string | undefined>;
