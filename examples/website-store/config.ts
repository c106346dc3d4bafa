import { assets, block, service } from 'fata';
import website from '../website/config.ts';

/**
 * examples/website with a `store` block device: the ACME account key and the certificate (with its chain)
 * are kept there, so a restart serves the stored certificate and orders a new one only when it is due
 * (two thirds into its life). The same main, content and parameters; every device of a Fata image must be
 * attached, which is why the plain website (`npx fata run examples/website`, no block device) is a separate image.
 */
export default service({
  name: 'website-store',
  main: './main.ts',
  devices: {
    service: website.devices.service,
    htdocs: assets('../website/htdocs'),
    tls: assets('../website/tls', { devCert: true }),
    /** The ACME account key and certificate (a record of a few KiB, kept twice; `truncate -s 1M store.img`). */
    store: block(),
  },
  params: website.params,
});
