// In CI every prerequisite must be present: the suites below skip themselves on a developer machine
// that lacks one (no ../shared, no native toolchain, no Debian test data), but a CI run that skipped
// them would pass without testing anything. Here a missing prerequisite fails the run instead.
import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { nativeAvailable, loadError } from '../native-kernels/lib/index';
import { hasShared, models } from './helpers/shared';

describe.runIf(process.env.CI)('CI prerequisites (no silent skips)', () => {
  it('has ../shared with the real models', () => {
    expect(hasShared).toBe(true);
    expect(existsSync(models.cnn) && existsSync(models.gpt) && existsSync(models.gptOutliers)).toBe(true);
  });
  it('built and loaded the native kernel addon', () => {
    expect(loadError()).toBeNull();
    expect(nativeAvailable()).toBe(true);
  });
  it('has the ONNX conformance data, real test images, Chromium and espeak-ng', () => {
    expect(existsSync('/usr/share/libonnx-testdata/data/node/test_quantizelinear')).toBe(true);
    expect(existsSync('.cache/test-assets/skimage-data/astronaut.png')).toBe(true);
    expect(existsSync('/usr/bin/chromium')).toBe(true);
    expect(existsSync('/usr/bin/espeak-ng')).toBe(true);
  });
});
