// One helper decides what an API error is.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiException } from '@kubernetes/client-node';
import { describeError, isApiError } from '../../src/kube/errors.js';
import { CONFLICT_RETRY_MS, PrimaryGoneError, resultOfError } from '../../src/controller/result.js';

const notFound = new ApiException(404, 'Unknown API Status Code!', JSON.stringify({ kind: 'Status', message: 'pods "x" not found' }), {});
const conflict = new ApiException(409, 'Unknown API Status Code!', '{"message":"the object has been modified"}', {});

describe('API errors', () => {
  it('are recognised by their HTTP code, from calls and from watches', () => {
    assert.ok(isApiError(notFound, 404));
    assert.ok(!isApiError(notFound, 409));
    assert.ok(isApiError(Object.assign(new Error('Gone'), { statusCode: 410 }), 410));
    assert.ok(!isApiError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), 404));
    assert.ok(!isApiError(undefined, 404));
  });

  it('are described by the API server\'s own message, with the code and the cause', () => {
    assert.deepEqual(describeError(notFound), { message: 'pods "x" not found', code: 404 });
    const wrapped = new Error('could not create helper', { cause: conflict });
    assert.deepEqual(describeError(wrapped), { message: 'could not create helper', cause: { message: 'the object has been modified', code: 409 } });
  });

  it('end a pass: the PortForward gone is done, a conflict retries soon, the rest backs off', () => {
    assert.deepEqual(resultOfError(new PrimaryGoneError(notFound)), { kind: 'done' });
    assert.deepEqual(resultOfError(conflict), { kind: 'requeueAfter', ms: CONFLICT_RETRY_MS });
    assert.equal(resultOfError(notFound).kind, 'error', 'a 404 of another object is not the end');
  });
});
