import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipInputStream;

/**
 * Puts the classes of every Android library (.aar) in a folder into a class folder: an .aar is a
 * zip whose compiled classes are in its classes.jar (and libs/*.jar), a jar inside the zip, which
 * no Maven plugin unpacks. Run by the build as a single-file program:
 * {@code java UnpackAarClasses.java AAR_DIR CLASSES_DIR}.
 */
public final class UnpackAarClasses {
    public static void main(String[] args) throws IOException {
        Path aars = Path.of(args[0]);
        Path out = Path.of(args[1]).toAbsolutePath().normalize();
        int count = 0;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(aars, "*.aar")) {
            for (Path aar : files) {
                try (ZipFile zip = new ZipFile(aar.toFile())) {
                    boolean found = false;
                    for (ZipEntry jar : zip.stream().toList()) {
                        String name = jar.getName();
                        if (name.equals("classes.jar") || (name.startsWith("libs/") && name.endsWith(".jar"))) {
                            found = true;
                            try (InputStream in = zip.getInputStream(jar)) {
                                unpackJar(in, out);
                            }
                        }
                    }
                    if (!found) throw new IOException(aar + " has no classes.jar");
                }
                count++;
            }
        }
        if (count == 0) throw new IOException("no .aar in " + aars);
        System.out.println("classes of " + count + " .aar files in " + out);
    }

    private static void unpackJar(InputStream jar, Path out) throws IOException {
        try (ZipInputStream entries = new ZipInputStream(jar)) {
            for (ZipEntry entry; (entry = entries.getNextEntry()) != null; ) {
                if (entry.isDirectory() || entry.getName().startsWith("META-INF/MANIFEST.MF")) continue;
                Path target = out.resolve(entry.getName()).normalize();
                if (!target.startsWith(out)) throw new IOException("entry outside the folder: " + entry.getName());
                Files.createDirectories(target.getParent());
                Files.copy(entries, target, StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }
}
