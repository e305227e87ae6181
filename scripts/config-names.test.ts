import { describe, expect, it } from 'vitest';
import { ONE_SERVICE_SETTINGS, PROJECT_PREFIXES, type Spec } from '@gateway/server-kit';
import { balancerSpec } from '../balancer/src/config.js';
import { monolithSpec } from '../monolith/src/config.js';

const prefixed = (spec: Spec) => Object.keys(spec).filter((name) => PROJECT_PREFIXES.some((prefix) => name.startsWith(prefix)));

describe('ONE_SERVICE_SETTINGS (no warning for the other service\'s variables in a shared environment)', () => {
  it('is exactly the prefixed settings one spec has and the other has not', () => {
    const balancer = new Set(prefixed(balancerSpec));
    const monolith = new Set(prefixed(monolithSpec));
    const onlyOne = [...balancer].filter((n) => !monolith.has(n)).concat([...monolith].filter((n) => !balancer.has(n)));
    expect([...ONE_SERVICE_SETTINGS].sort()).toEqual(onlyOne.sort());
  });
});
