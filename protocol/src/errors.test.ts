import { describe, expect, it } from 'vitest';
import { errorFrame } from './client.js';
import { ErrorCode, ErrorHuman, errorBody } from './errors.js';

describe('the error shape', () => {
  it('an HTTP problem and a socket error event carry the same code, message and human text', () => {
    const body = errorBody(ErrorCode.FORBIDDEN, 'guild 1 is not in your token');
    expect(body).toEqual({ code: 'forbidden', message: 'guild 1 is not in your token', human: ErrorHuman.forbidden });
    expect(JSON.parse(errorFrame(ErrorCode.FORBIDDEN, 'guild 1 is not in your token', 7))).toEqual({ event: 'error', _id: 7, ...body });
  });

  it('echoes only a valid correlation id', () => {
    expect(JSON.parse(errorFrame(ErrorCode.BAD_REQUEST, 'x', 'a1'))._id).toBe('a1');
    for (const id of [undefined, null, {}, ['1'], true]) expect(JSON.parse(errorFrame(ErrorCode.BAD_REQUEST, 'x', id))).not.toHaveProperty('_id');
  });
});
