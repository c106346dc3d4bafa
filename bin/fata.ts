#!/usr/bin/env node
import { cli } from '../src/cli/fata.ts';

process.exitCode = await cli(process.argv.slice(2));
