/** The sim driver's public surface: the driver, its world file, the control channel, the generator. */
export { SimDriver, createSimDriver, type SimDriverOptions } from './sim-driver.js';
export { SimConnection, pairingCode } from './connection.js';
export { simControl, simControlChannel, type SimControlMessage } from './control.js';
export {
  loadSimWorld,
  parseSimWorld,
  emptySimWorld,
  SimWorldError,
  type SimWorld,
  type SimWorldInput,
} from './world.js';
export { generateSimWorld, writeSimWorld, type SimWorldGeneratorOptions } from './world-generator.js';
