#!/usr/bin/env node
// The `fata` command. Runs the CLI from a cached bundle of its sources (see src/host/bundle-cache.mjs).
import { pathToFileURL } from 'node:url';
import { hostEntry } from '../src/host/bundle-cache.mjs';

const { cli } = await import(pathToFileURL(await hostEntry('cli')).href);
// Exit with the unikernel's code even if host handles (a socket-mode UDP socket) are still open.
process.exit(await cli(process.argv.slice(2)));
