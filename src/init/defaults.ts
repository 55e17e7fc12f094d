// init's defaults, in a module without TensorFlow.js: the CLI shows them in its option table at every start.

/** Calibration images by default: enough samples per channel for BN moments even at 7×7 (392). */
export const INIT_CALIB_IMAGES = 8;
