import { describe, expect, it } from 'vitest';
import { splitMessage } from '@gateway/protocol';
import { createLog } from '@gateway/server-kit';
import type { EpochSource } from '../coordination/coordination.js';
import { memoryEpochs } from '../coordination/memory-coordination.js';
import { Links, type LinkPeer } from './links.js';
import { Ownership } from './ownership.js';
import { waitFor } from '../../../testing/wait.js';

class RecordingLink implements LinkPeer {
  readonly frames: string[] = [];
  constructor(readonly id: string) {}
  send(frame: string): void {
    this.frames.push(frame);
  }
  heads(type: string) {
    return this.frames.map((f) => splitMessage(f)!.head).filter((h) => h.type === type);
  }
}

function setup(epochs: EpochSource = memoryEpochs()) {
  const links = new Links();
  const ownership = new Ownership({ epochs, links, log: createLog('test', 'error') });
  const a = new RecordingLink('a');
  const b = new RecordingLink('b');
  links.add(a);
  links.add(b);
  return { links, ownership, a, b };
}

const until = (cond: () => boolean) => waitFor(cond, { timeoutMs: 2000, intervalMs: 5 });

describe('Ownership', () => {
  it('announces loaded with a growing epoch to every link, and unloaded', async () => {
    const { ownership, a, b } = setup();
    ownership.loaded('r1');
    await until(() => a.heads('loaded').length === 1);
    expect(b.heads('loaded')).toEqual([{ type: 'loaded', room: 'r1', epoch: 1 }]);
    ownership.unloaded('r1', 'empty');
    expect(b.heads('unloaded')).toEqual([{ type: 'unloaded', room: 'r1', reason: 'empty' }]);
    ownership.loaded('r1');
    await until(() => a.heads('loaded').length === 2);
    expect(a.heads('loaded')[1]).toMatchObject({ epoch: 2 });
  });

  it('lists the announced rooms in gossip, and greets a new link with it', async () => {
    const { ownership, links, a } = setup();
    ownership.loaded('r1');
    ownership.loaded('r2');
    await until(() => a.heads('loaded').length === 2);
    ownership.unloaded('r1', 'empty');
    const late = new RecordingLink('late');
    links.add(late);
    ownership.greet(late);
    expect(late.heads('gossip')).toEqual([{ type: 'gossip', rooms: [{ room: 'r2', epoch: 2 }] }]);
  });

  it('makes no claim while draining: no loaded, no gossip to a new link', async () => {
    const { ownership, a } = setup();
    ownership.draining = true;
    ownership.loaded('r1');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(a.heads('loaded')).toEqual([]);
    const late = new RecordingLink('late');
    ownership.greet(late);
    expect(late.frames).toEqual([]);
  });

  it('announces nothing for a room unloaded before its epoch came, nor that epoch', async () => {
    let grant: (epoch: number) => void = () => {};
    const epochs = { next: () => new Promise<number>((resolve) => (grant = resolve)) } as unknown as EpochSource;
    const { ownership, a } = setup(epochs);
    ownership.loaded('r1');
    ownership.unloaded('r1', 'empty');
    grant(7);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(a.frames).toEqual([]);
  });
});
