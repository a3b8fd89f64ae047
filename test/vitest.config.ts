import { defineConfig } from 'vitest/config';

// Integration and browser tests run real ffmpeg encoders: one file at a time, or two files'
// encoders would fight over the 2 cores and make each other fall behind real time.
export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 20_000,
    hookTimeout: 30_000,
    reporters: ['default'],
  },
});
