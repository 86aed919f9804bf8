// The model viewer: the textured OBJ (with its MTL and texture, the files both apps load) in a
// three.js scene, framed to fit, rotated with the mouse (OrbitControls). three.js is vendored
// in this package (/static/vendor/three, see its VENDORED.md): nothing comes from a CDN.
import * as THREE from "/static/vendor/three/three.module.js";
import { MTLLoader } from "/static/vendor/three/addons/MTLLoader.js";
import { OBJLoader } from "/static/vendor/three/addons/OBJLoader.js";
import { OrbitControls } from "/static/vendor/three/addons/OrbitControls.js";

export const BACKGROUND = 0xeef1f5;

export class Viewer {
  constructor(container) {
    this.container = container;
    this.renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2));
    this.renderer.setClearColor(BACKGROUND);
    this.renderer.outputColorSpace = THREE.SRGBColorSpace;
    this.scene = new THREE.Scene();
    this.camera = new THREE.PerspectiveCamera(40, 1, 0.01, 1000);
    this.scene.add(new THREE.HemisphereLight(0xffffff, 0x8d8d8d, 2.2));
    const sun = new THREE.DirectionalLight(0xffffff, 1.6);
    sun.position.set(3, 5, 4);
    this.scene.add(sun);
    this.controls = new OrbitControls(this.camera, this.renderer.domElement);
    this.controls.enableDamping = true;
    this.model = null;
    container.append(this.renderer.domElement);
    this.resize();
    new ResizeObserver(() => this.resize()).observe(container);
    this.renderer.setAnimationLoop(() => {
      this.controls.update();
      this.renderer.render(this.scene, this.camera);
    });
  }

  resize() {
    const { clientWidth: width, clientHeight: height } = this.container;
    if (width === 0 || height === 0) return;
    this.renderer.setSize(width, height, false);
    this.camera.aspect = width / height;
    this.camera.updateProjectionMatrix();
  }

  async show({ modelUrl, mtlUrl }) {
    const manager = trackedManager();
    const loader = new OBJLoader(manager);
    if (mtlUrl) {
      const materials = await new MTLLoader(manager).setCrossOrigin("anonymous").loadAsync(mtlUrl);
      materials.preload();
      loader.setMaterials(materials);
    }
    const object = await loader.loadAsync(modelUrl);
    await manager.idle(); // the texture too: the first frame shown is the textured model
    if (this.model) this.scene.remove(this.model);
    this.model = object;
    this.scene.add(object);
    this.frame(object);
    return object;
  }

  frame(object) {
    // face the model's broadest side (a relief is looked at from above its picture, a figure
    // from the front), a little from above, at a distance that fits it whole
    const box = new THREE.Box3().setFromObject(object);
    const extent = box.getSize(new THREE.Vector3());
    const size = extent.length();
    object.position.sub(box.getCenter(new THREE.Vector3()));
    const distance = (size / (2 * Math.tan((this.camera.fov * Math.PI) / 360))) * 0.9;
    const thinnest = ["x", "y", "z"].reduce((a, b) => (extent[b] < extent[a] ? b : a));
    const tilt = 0.45; // radians off the thinnest axis, so the relief's depth shows
    const along = new THREE.Vector3(0, Math.sin(tilt), Math.cos(tilt)); // looking along z
    if (thinnest === "y") along.set(0, Math.cos(tilt), Math.sin(tilt));
    if (thinnest === "x") along.set(Math.cos(tilt), Math.sin(tilt), 0);
    this.camera.position.copy(along.multiplyScalar(distance));
    this.camera.near = size / 100;
    this.camera.far = size * 100;
    this.camera.updateProjectionMatrix();
    this.controls.target.set(0, 0, 0);
    this.controls.update();
  }
}

function trackedManager() {
  // a LoadingManager that says when every file it started (MTL, texture, OBJ) has ended
  const manager = new THREE.LoadingManager();
  let done = true;
  let waiters = [];
  manager.onStart = () => { done = false; };
  manager.onProgress = (_url, loaded, total) => {
    done = loaded === total;
    if (done) {
      for (const resolve of waiters) resolve();
      waiters = [];
    }
  };
  manager.idle = () => (done ? Promise.resolve() : new Promise((resolve) => waiters.push(resolve)));
  return manager;
}
