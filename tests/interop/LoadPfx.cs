// Mono's X509Certificate2 stands in for .NET Framework / Windows here: load the PFX with its
// password, then sign with the private key and verify with the certificate's public key.
// Usage: mono LoadPfx.exe PATH PASSWORD  -> prints "OK <SHA-1 thumbprint>" or fails.
using System;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

class LoadPfx {
    static int Main(string[] args) {
        try {
            var cert = new X509Certificate2(args[0], args[1], X509KeyStorageFlags.Exportable);
            if (!cert.HasPrivateKey) { Console.WriteLine("NO PRIVATE KEY"); return 2; }
            var data = Encoding.UTF8.GetBytes("unattended interop check");
            var key = (RSA)cert.PrivateKey;
            var signature = key.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var pub = (RSA)cert.PublicKey.Key;
            if (!pub.VerifyData(data, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)) {
                Console.WriteLine("SIGNATURE DID NOT VERIFY"); return 3;
            }
            Console.WriteLine("OK " + cert.Thumbprint);
            return 0;
        } catch (Exception e) {
            Console.WriteLine("ERROR " + e.GetType().Name + ": " + e.Message);
            return 1;
        }
    }
}
