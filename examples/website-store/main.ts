/** examples/website's main with the `store` block device: ACME state kept across restarts (see config.ts). */
import type { Main } from 'fata';
import type config from './config.ts';
import { serve } from '../website/main.ts';

export const main: Main<typeof config> = (devices, params, ctx) => serve(devices, params, ctx, devices.store);
