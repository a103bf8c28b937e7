import { describe, expect, it } from 'vitest';
import { rejection } from '../../test-support/rejection.ts';
import { GpuUnavailableError, type AdapterDescription } from '../engine/gpu/request-device.ts';
import { StudioError } from '../engine/errors.ts';
import { adapterRefusal, loadDawn, WEBGPU_MISSING } from './node-gpu.ts';

const swiftshader: AdapterDescription = { vendor: 'google', architecture: 'swiftshader', device: 'swiftshader-device-subzero-', description: 'SwiftShader driver 5.0.0', isFallbackAdapter: true };
const h200: AdapterDescription = { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200', isFallbackAdapter: false };

describe('loadDawn', () => {
  it('without the optional `webgpu` package: a GpuUnavailableError (a StudioError, exit 2) saying how to get it', async () => {
    // A real failed import of a package that is not installed, as when `webgpu` was left out.
    const e = await rejection(loadDawn(() => import('webgpu-not-installed-' + 'x')));
    expect(e).toBeInstanceOf(GpuUnavailableError);
    expect(e).toBeInstanceOf(StudioError);
    expect(e.message).toBe('the GPU path needs the optional `webgpu` package: npm install webgpu, or use --device cpu');
    expect(e.message).toBe(WEBGPU_MISSING);
  });

  it('installed but unloadable (dawn.node fails to open): says so with the loader\'s words', async () => {
    const dlopen = Object.assign(new Error('libvulkan.so.1: cannot open shared object file'), { code: 'ERR_DLOPEN_FAILED' });
    const e = await rejection(loadDawn(() => Promise.reject(dlopen)));
    expect(e).toBeInstanceOf(GpuUnavailableError);
    expect(e.message).toBe('the `webgpu` package is installed but Dawn did not load (libvulkan.so.1: cannot open shared object file); use --device cpu');
  });
});

describe('adapterRefusal', () => {
  it('no adapter, and a software adapter unless allowed, are refused; a GPU is not', () => {
    expect(adapterRefusal(null, false)).toBe('Dawn (the `webgpu` package) found no GPU adapter on this machine');
    expect(adapterRefusal(null, true)).toBe('Dawn (the `webgpu` package) found no GPU adapter on this machine');
    expect(adapterRefusal(swiftshader, false)).toBe(
      'the only adapter Dawn found is a software (CPU) one, google / swiftshader / swiftshader-device-subzero- / SwiftShader driver 5.0.0, which is slower than the CPU path',
    );
    expect(adapterRefusal(swiftshader, true)).toBeUndefined();
    expect(adapterRefusal(h200, false)).toBeUndefined();
  });
});
