"""compare_extra.py: runs of compare.py beside the client workloads, as a mixin of its Bench: the
raw multipart reference, the in-memory backend (s3mount-memfs vs libfuse's null example) and the
memory check."""
import concurrent.futures
import os
import subprocess
import time

from compare_util import (BUCKET, GIB, MIB, RAW_PART, Failure, drop_page_cache, is_mounted, log,
                          proc_cpu, proc_hwm_mib, reset_hwm, run_measured, size_bytes)


class ExtraRuns:
    # ----- raw multipart uploads: the write reference shaped like the IOR files
    def run_raw_mpu(self, rnd, body):
        """The uploads a file client makes for the IOR write: one multipart upload per task
        of ior_block in 8 MiB parts (UploadPart, then CompleteMultipartUpload), sent by one
        curl process as raw-put sends 8 MiB PutObjects. RGW's cost per byte differs between
        the two, so both references are shown."""
        p = self.p
        nparts = size_bytes(p["ior_block"]) // RAW_PART
        uploads, entries = {}, []
        for t in range(p["tasks"]):
            key = f"raw/m-{t}"
            uid = self.s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
            uploads[key] = uid
            for n in range(1, nparts + 1):
                url = self.s3.generate_presigned_url(
                    "upload_part", Params=dict(Bucket=BUCKET, Key=key, UploadId=uid, PartNumber=n),
                    ExpiresIn=7200)
                entries.append(f'url = "{url}"\nupload-file = "{body}"\noutput = "/dev/null"')

        def complete():
            for key, uid in uploads.items():
                parts = self.s3.list_parts(Bucket=BUCKET, Key=key, UploadId=uid, MaxParts=1000)["Parts"]
                if len(parts) != nparts:
                    raise Failure(f"{key}: {len(parts)} of {nparts} parts uploaded")
                self.s3.complete_multipart_upload(
                    Bucket=BUCKET, Key=key, UploadId=uid,
                    MultipartUpload={"Parts": [{"PartNumber": x["PartNumber"], "ETag": x["ETag"]}
                                               for x in parts]})
        self.raw_one(rnd, "raw-mpu", entries, nparts * RAW_PART * p["tasks"], len(entries), complete)

    # ----- in-memory backend: s3mount-memfs vs libfuse's null example
    def build_null(self):
        src = "/usr/share/doc/libfuse3-dev/examples/null.c"
        exe = f"{self.work}/null"
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "fuse3"], check=True,
                               capture_output=True, text=True).stdout.split()
        subprocess.run(["gcc", "-O2", "-o", exe, src] + flags, check=True)
        return exe

    def run_memfs(self, rnd):
        size = self.p["memfs_size"]
        order = ["null", "s3mount-memfs"] if rnd % 2 else ["s3mount-memfs", "null"]
        for name in order:
            logf = f"{self.logs}/r{rnd}-{name}.log"
            proc = None
            try:
                if name == "null":
                    target = f"{self.work}/nullfile"
                    open(target, "a").close()
                    cmd = [self.null_exe, "-f", target]
                else:
                    mnt = f"{self.work}/mnt/memfs"
                    os.makedirs(mnt, exist_ok=True)
                    cmd = [self.memfs, "--objects", "1", "--size", str(size), mnt]
                    target = f"{mnt}/obj-0"
                drop_page_cache()
                proc = subprocess.Popen(cmd, stdout=open(logf, "a"), stderr=subprocess.STDOUT)
                self.children.append(proc)
                mp = target if name == "null" else os.path.dirname(target)
                for _ in range(600):
                    if is_mounted(mp) or proc.poll() is not None:
                        break
                    time.sleep(0.1)
                if not is_mounted(mp):
                    raise Failure(f"{name} did not mount")
                # s3mount-memfs prints "mounted" once its readahead is raised; a file opened
                # before that keeps the kernel's 128 KiB readahead.
                for _ in range(100 if name != "null" else 0):
                    with open(logf) as lf:
                        if "mounted " in lf.read():
                            break
                    time.sleep(0.1)
                for mode, flag in (("direct", ["iflag=direct"]), ("buffered", [])):
                    cpu0 = proc_cpu([proc.pid])
                    wall, _, _ = run_measured(["dd", f"if={target}", "of=/dev/null", "bs=1M",
                                               f"count={size // MIB}"] + flag, logf, self.p["timeout"])
                    cpu = proc_cpu([proc.pid]) - cpu0
                    row = dict(round=rnd, client=name, workload=f"memfs-{mode}",
                               value=round(size / MIB / wall, 3), unit="MiB/s", wall_s=round(wall, 3),
                               client_cpu_s=round(cpu, 3), cpu_s_per_gib=round(cpu / (size / GIB), 3))
                    self.samples.append(row)
                    log(f"r{rnd}-{name}-{mode}: {row['value']} MiB/s")
            except Exception as e:  # noqa: BLE001
                self.samples.append(dict(round=rnd, client=name, workload="memfs-direct", value="fail",
                                         reason=str(e)))
                self.failures.append((name, "memfs", rnd, str(e), logf))
                log(f"r{rnd}-{name}: FAIL {e}")
            finally:
                mp = f"{self.work}/nullfile" if name == "null" else f"{self.work}/mnt/memfs"
                if is_mounted(mp):
                    subprocess.run(["fusermount3", "-u", mp], stderr=subprocess.DEVNULL)
                if proc:
                    try:
                        proc.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()

    # ----- memory check: N concurrent sequential buffered readers, s3mount at default settings
    def restart_rgw(self, logf):
        """A fresh, empty RGW (same endpoint and keys) for the memory check's objects (8 GiB in full
        mode): memstore holds ~1.7x what is stored, and the OSD never returns what the earlier steps
        freed (bench/rgw.sh sets MALLOC_TRIM_THRESHOLD_), so 8 GiB would not fit on top of them.
        RGW's log is recreated too (RgwLog.count copes)."""
        rgw_dir = os.environ.get("RGW_DIR")
        if not rgw_dir:
            log("memory check: no RGW_DIR (not run by compare.sh): RGW not restarted")
            return
        log(f"memory check: restarting RGW in {rgw_dir} with an empty store")
        t0 = time.time()
        rgw = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rgw.sh")
        with open(logf, "a") as lf:
            r = subprocess.run([rgw, "start", rgw_dir], stdout=subprocess.PIPE, stderr=lf, text=True,
                               timeout=300)
            lf.write(r.stdout)
        if r.returncode != 0:
            raise Failure(f"bench/rgw.sh start: exit {r.returncode}, see {logf}")
        if f"RGW_ENDPOINT={self.endpoint}" not in r.stdout.split():
            raise Failure(f"the restarted RGW is not at {self.endpoint}: {r.stdout.strip()}")
        self.s3 = self.s3_client()   # the old client's pooled connections went to the old RGW
        self.s3.create_bucket(Bucket=BUCKET)
        log(f"memory check: RGW restarted in {time.time() - t0:.1f} s")

    def run_memory_check(self):
        p = self.p
        n, size = p["mem_readers"], p["mem_size"]
        logdir = f"{self.logs}/memory-check"
        os.makedirs(logdir, exist_ok=True)
        row = dict(round=0, client="s3mount", workload=f"mem-{n}x{size // MIB}MiB")
        mnt = None
        try:
            self.restart_rgw(f"{self.logs}/memory-check-rgw.log")
            log(f"memory check: {n} readers of {size // MIB} MiB objects")
            src = f"{self.work}/shm/mem"
            subprocess.run(["head", "-c", str(size), "/dev/urandom"], check=True, stdout=open(src, "wb"))
            with concurrent.futures.ThreadPoolExecutor(4) as ex:
                list(ex.map(lambda i: self.put_file_as(src, f"mem/m-{i}"), range(n)))
            os.unlink(src)
            drop_page_cache()
            mnt, pids = self.mount("s3mount", logdir)
            reset_hwm(pids)
            cpu0 = proc_cpu(pids)
            script = " & ".join(f"dd if={mnt}/mem/m-{i} of=/dev/null bs=1M status=none" for i in range(n))
            wall, gen, _ = run_measured(["bash", "-c", script + " & wait"], f"{logdir}/workload.log",
                                        p["timeout"])
            row.update(value=round(n * size / MIB / wall, 3), unit="MiB/s", wall_s=round(wall, 3),
                       client_cpu_s=round(proc_cpu(pids) - cpu0, 3), peak_rss_mib=round(proc_hwm_mib(pids), 1))
            self.unmount(mnt)
            mnt = None
            row["s3mount_log_requests"] = self.s3mount_counts(logdir)
            log(f"memory check: peak RSS {row['peak_rss_mib']} MiB, {row['value']} MiB/s aggregate")
        except Exception as e:  # noqa: BLE001
            row.update(value="fail", reason=str(e))
            self.failures.append(("s3mount", "memory-check", 0, str(e), f"{logdir}/workload.log"))
            log(f"memory check: FAIL {e}")
        finally:
            self.memory = row
            if mnt:
                self.unmount(mnt)
            self.delete_prefix("mem/")
